"""Which Prefect task runner validates the batches: Prefect's thread pool, or Dask workers.

`UKIHA_DASK_WORKERS=N` starts a Dask LocalCluster of N worker processes (one thread each) on this
machine for the run; `UKIHA_DASK_ADDRESS=tcp://scheduler:8786` uses a running Dask cluster
(prefect-dask's `DaskTaskRunner`, `pip install ".[dask]"`). Only the validation tasks go to the
workers (they need the files and the rules, nothing else); the flow process keeps the
warehouse and loads the batches one after another.
"""

from __future__ import annotations

from typing import Any

from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from ukiha_pipeline.errors import ConfigError
from ukiha_pipeline.settings import Settings


def task_runner(settings: Settings) -> TaskRunner[Any]:
    """The task runner the settings ask for (Dask when an address or a worker count is set)."""
    if not (settings.dask_address or settings.dask_workers):
        return ThreadPoolTaskRunner()
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # an optional dependency
        raise ConfigError(
            "UKIHA_DASK_ADDRESS / UKIHA_DASK_WORKERS には prefect-dask が必要です: "
            'pip install -c requirements.lock -e ".[dask]"'
        ) from exc
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_class=local_cluster,
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,  # pandas and pandera hold the GIL: processes, not threads
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": None,
        },
    )


def local_cluster(**kwargs: Any) -> Any:
    """A Dask LocalCluster (started by the runner inside the flow run) whose worker processes
    report to this run's Prefect API. Without PREFECT_API_URL the run talks to a temporary
    server that a worker would not find: each would start one of its own (about 10 s)."""
    from distributed import LocalCluster
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    return LocalCluster(env={"PREFECT_API_URL": api_url}, **kwargs)


def default_task_runner() -> TaskRunner[Any]:
    """The flow's runner, from the environment when the flow module is imported (a bad
    setting, or Dask asked for without prefect-dask, is a ConfigError there)."""
    return task_runner(Settings.from_env())


def validation_slots() -> int:
    """How many batches to validate in front of the load: the Dask cluster's worker threads,
    else 1 (Prefect's thread pool: one batch validates while the previous one loads)."""
    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    client = getattr(runner, "client", None)  # prefect_dask.DaskTaskRunner
    if client is None:
        return 1
    return max(1, sum(client.nthreads().values()))
