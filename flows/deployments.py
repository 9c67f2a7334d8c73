"""The single wiring point for deployments and schedules (`ukiha serve`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.annual_ingest import annual_ingest

DEPLOYMENT_NAME = "annual-ingest"
#: Yearly, 1 June 06:00 Tokyo: the fiscal year ends 31 March and sheets are due in May.
ANNUAL_CRON = "0 6 1 6 *"
TIMEZONE = "Asia/Tokyo"


def annual_deployment() -> RunnerDeployment:
    return annual_ingest.to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=Cron(ANNUAL_CRON, timezone=TIMEZONE),
        description="Annual ingest of the PDCA sheets in data/raw into the warehouse.",
        tags=["ukiha", "annual"],
    )


def next_runs(
    deployment: RunnerDeployment, n: int = 3, *, after: datetime | None = None
) -> list[str]:
    """The next scheduled times (ISO 8601 with offset), from the deployment's own schedule."""
    from cronsim import CronSim

    schedule = deployment.schedules[0].schedule
    cron = schedule.cron  # type: ignore[union-attr]
    tz = ZoneInfo(schedule.timezone or "UTC")  # type: ignore[union-attr]
    start = (after or datetime.now(tz)).astimezone(tz)
    it = CronSim(cron, start)
    return [next(it).isoformat() for _ in range(n)]


def describe(deployment: RunnerDeployment, *, after: datetime | None = None) -> dict[str, object]:
    schedule = deployment.schedules[0].schedule
    return {
        "name": deployment.name,
        "flow": annual_ingest.name,
        "cron": schedule.cron,  # type: ignore[union-attr]
        "timezone": schedule.timezone,  # type: ignore[union-attr]
        "next_runs": next_runs(deployment, after=after),
    }
