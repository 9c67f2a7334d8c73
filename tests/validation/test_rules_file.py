"""The rules file (`schemas/rules.toml`, or UKIHA_RULES) is checked when it is read: a mistake is
one ConfigError naming the file and what to change, not a failure later, when a check fires."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ukiha_process import ukiha
from ukiha_pipeline.errors import ConfigError
from ukiha_pipeline.validation.reference import CHECK_IDS, load_rules
from ukiha_pipeline.warehouse.schema import TABLES

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "schemas" / "rules.toml"
FIXTURES = REPO / "tests" / "fixtures" / "synthetic"


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = RULES.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "rules.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_the_shipped_rules_name_every_check_id() -> None:
    assert set(load_rules(RULES).severity) == CHECK_IDS


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('duplicate_project = "warning"\n', "", "missing ['duplicate_project']"),
        ("duplicate_project =", "duplicated_project =", "unknown ['duplicated_project']"),
        (
            'E = { ja = "未実施・中止"',
            'S = { ja = "特に順調" }\nE = { ja = "未実施・中止"',
            "['S']",
        ),
    ],
    ids=["a check left out", "a check id mistyped", "a rating beyond A-E"],
)
def test_a_rules_mistake_is_a_config_error_naming_it(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=r"rules\.toml: ") as info:
        load_rules(edited(tmp_path, old, new))
    assert said in str(info.value)


def test_a_check_left_out_stops_validate_at_once_not_when_the_check_fires(tmp_path: Path) -> None:
    """It used to pass on a clean sheet and end in 「内部エラー (KeyError)」 on a sheet with a
    duplicated project."""
    rules = edited(tmp_path, 'duplicate_project = "warning"\n', "")
    for sheet in ("valid_excerpt.txt", "duplicate_project.txt"):
        proc = ukiha("validate", str(FIXTURES / sheet), env={"UKIHA_RULES": str(rules)})
        assert proc.returncode == 1, proc.stdout + proc.stderr  # a ConfigError, not usage
        assert proc.stderr.startswith("ukiha: ") and "missing ['duplicate_project']" in proc.stderr
        assert "内部エラー" not in proc.stderr and "Traceback" not in proc.stderr


def test_the_warehouse_knows_the_ratings_the_rules_may_use() -> None:
    from ukiha_pipeline.normalize import RATINGS

    allowed = ", ".join(f"'{r}'" for r in RATINGS)
    assert f"CHECK (rating IN ({allowed}))" in TABLES["projects"]
