"""Settings: every default is named once here; `UKIHA_*` environment variables override them.

| variable                 | default                          | meaning                                    |
|--------------------------|----------------------------------|--------------------------------------------|
| UKIHA_RAW_DIR            | data/raw                         | where `ukiha ingest` looks for sheets      |
| UKIHA_WAREHOUSE          | data/warehouse/ukiha.duckdb      | the DuckDB warehouse file                  |
| UKIHA_REPORTS            | `reports/` beside the warehouse  | where the HTML reports are written         |
| UKIHA_MUNICIPALITY       | うきは市                          | municipality when the title names none     |
| UKIHA_RULES              | schemas/rules.toml               | rating legend, flag-rating rule, severities|
| UKIHA_DEPARTMENTS        | schemas/departments.csv          | department master (課 → 係, valid years)    |
| UKIHA_WAIVERS            | schemas/waivers.toml             | failures stewards accepted, with who and why|
| UKIHA_LOCK_TIMEOUT       | 30                               | seconds a writer waits for another's lock  |
| UKIHA_BATCH_SIZE         | 100                              | sheets per batch (validation, transaction) |
| UKIHA_DASK_WORKERS       | (none)                           | validate on a local Dask cluster of N procs|
| UKIHA_DASK_ADDRESS       | (none)                           | validate on a running Dask scheduler       |
| UKIHA_REPORT_WORKERS     | number of cores                  | processes that render report pages at once |
| UKIHA_NOTIFY_BLOCK       | (none)                           | Prefect notification block, `type/name`    |
| UKIHA_NOTIFY_WEBHOOK     | (none)                           | URL that gets a JSON POST when a run fails |

A run "fails" for notifications when a sheet is fatal, has errors, or cannot be loaded.
Retries of the annual run's file and warehouse tasks wait `RETRY_DELAYS_S` (fixed here, so
that a scheduled run rides out a steward's open `ukiha sql` session or a busy file share).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import schemas
from ukiha_pipeline.errors import ConfigError

DEFAULT_RAW_DIR = Path("data/raw")
DEFAULT_WAREHOUSE = Path("data/warehouse/ukiha.duckdb")
DEFAULT_MUNICIPALITY = "うきは市"
SCHEMAS_DIR = Path(schemas.__file__).resolve().parent
DEFAULT_RULES = SCHEMAS_DIR / "rules.toml"
DEFAULT_DEPARTMENTS = SCHEMAS_DIR / "departments.csv"
DEFAULT_WAIVERS = SCHEMAS_DIR / "waivers.toml"
#: Text files are read whole; anything larger is not a PDCA sheet.
MAX_SHEET_BYTES = 50 * 1024 * 1024
#: How long a writer waits for another process's warehouse lock, per attempt.
DEFAULT_LOCK_TIMEOUT_S = 30.0
#: Every run is ingested in batches of `UKIHA_BATCH_SIZE` (a run of one sheet is a batch of
#: one): one set of tasks, one pandera call per model and one warehouse transaction per batch.
#: A task costs Prefect tens of ms: per batch, not per sheet, that stays under 10 % of the
#: work (benchmarks/pipeline.py).
DEFAULT_BATCH_SIZE = 100
#: Waits between the retries of a task that touches files or the warehouse (transient faults).
RETRY_DELAYS_S = (5.0, 30.0, 120.0)
#: Processes that render report pages at once (1: only the calling process).
DEFAULT_REPORT_WORKERS = os.cpu_count() or 1
#: A notification that takes longer than this is abandoned (with a warning).
NOTIFY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Settings:
    raw_dir: Path = DEFAULT_RAW_DIR
    warehouse: Path = DEFAULT_WAREHOUSE
    reports_dir: Path | None = None
    municipality: str = DEFAULT_MUNICIPALITY
    rules_file: Path = DEFAULT_RULES
    departments_file: Path = DEFAULT_DEPARTMENTS
    waivers_file: Path = DEFAULT_WAIVERS
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    batch_size: int = DEFAULT_BATCH_SIZE
    dask_workers: int = 0  # 0: no Dask (Prefect's thread pool)
    dask_address: str | None = None
    report_workers: int = DEFAULT_REPORT_WORKERS
    notify_block: str | None = None
    notify_webhook: str | None = None

    @property
    def reports(self) -> Path:
        """Reports live in `reports/` beside the warehouse file unless set."""
        return self.reports_dir or self.warehouse.parent / "reports"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        reports = env.get("UKIHA_REPORTS")
        return cls(
            raw_dir=Path(env.get("UKIHA_RAW_DIR", DEFAULT_RAW_DIR)),
            warehouse=Path(env.get("UKIHA_WAREHOUSE", DEFAULT_WAREHOUSE)),
            reports_dir=Path(reports) if reports else None,
            municipality=env.get("UKIHA_MUNICIPALITY", DEFAULT_MUNICIPALITY),
            rules_file=Path(env.get("UKIHA_RULES", DEFAULT_RULES)),
            departments_file=Path(env.get("UKIHA_DEPARTMENTS", DEFAULT_DEPARTMENTS)),
            waivers_file=Path(env.get("UKIHA_WAIVERS", DEFAULT_WAIVERS)),
            lock_timeout_s=_seconds(env, "UKIHA_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT_S),
            batch_size=_count(env, "UKIHA_BATCH_SIZE", DEFAULT_BATCH_SIZE),
            dask_workers=_count(env, "UKIHA_DASK_WORKERS", 0),
            dask_address=env.get("UKIHA_DASK_ADDRESS") or None,
            report_workers=_count(env, "UKIHA_REPORT_WORKERS", DEFAULT_REPORT_WORKERS),
            notify_block=env.get("UKIHA_NOTIFY_BLOCK") or None,
            notify_webhook=env.get("UKIHA_NOTIFY_WEBHOOK") or None,
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(f"{name}={raw!r}: 0 以上の秒数を指定してください。")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r}: 1 以上の整数を指定してください。")
    return int(raw)
