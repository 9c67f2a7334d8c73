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
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import schemas

DEFAULT_RAW_DIR = Path("data/raw")
DEFAULT_WAREHOUSE = Path("data/warehouse/ukiha.duckdb")
DEFAULT_MUNICIPALITY = "うきは市"
SCHEMAS_DIR = Path(schemas.__file__).resolve().parent
DEFAULT_RULES = SCHEMAS_DIR / "rules.toml"
DEFAULT_DEPARTMENTS = SCHEMAS_DIR / "departments.csv"
DEFAULT_WAIVERS = SCHEMAS_DIR / "waivers.toml"
#: Text files are read whole; anything larger is not a PDCA sheet.
MAX_SHEET_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    raw_dir: Path = DEFAULT_RAW_DIR
    warehouse: Path = DEFAULT_WAREHOUSE
    reports_dir: Path | None = None
    municipality: str = DEFAULT_MUNICIPALITY
    rules_file: Path = DEFAULT_RULES
    departments_file: Path = DEFAULT_DEPARTMENTS
    waivers_file: Path = DEFAULT_WAIVERS

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
        )
