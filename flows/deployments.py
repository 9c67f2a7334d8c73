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


def annual_deployment(warehouse: str | None = None) -> RunnerDeployment:
    """The yearly run; `warehouse` (else the settings' at run time) is a parameter of every run."""
    deployment = annual_ingest.to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=Cron(ANNUAL_CRON, timezone=TIMEZONE),
        description="Annual ingest of the PDCA sheets in data/raw into the warehouse.",
        tags=["ukiha", "annual"],
        parameters={"warehouse": warehouse} if warehouse else {},
    )
    assert isinstance(deployment, RunnerDeployment)  # sync context: not a coroutine
    return deployment


def _cron(deployment: RunnerDeployment) -> tuple[str, str]:
    schedule = (deployment.schedules or [])[0].schedule
    return schedule.cron, schedule.timezone or "UTC"  # type: ignore[union-attr]


def next_runs(
    deployment: RunnerDeployment, n: int = 3, *, after: datetime | None = None
) -> list[str]:
    """The next scheduled times (ISO 8601 with offset), from the deployment's own schedule."""
    from cronsim import CronSim

    cron, tz_name = _cron(deployment)
    tz = ZoneInfo(tz_name)
    start = (after or datetime.now(tz)).astimezone(tz)
    it = CronSim(cron, start)
    return [next(it).isoformat() for _ in range(n)]


def describe(deployment: RunnerDeployment, *, after: datetime | None = None) -> dict[str, object]:
    cron, tz_name = _cron(deployment)
    return {
        "name": deployment.name,
        "flow": annual_ingest.name,
        "cron": cron,
        "timezone": tz_name,
        "next_runs": next_runs(deployment, after=after),
        "parameters": dict(deployment.parameters or {}),
    }
