"""The `ukiha` command in a real process, as a steward runs it (exit codes, stdout, stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ukiha(
    *args: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    python_flags: Sequence[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `python [python_flags] -m ukiha_pipeline.cli args` with this checkout importable;
    `env` adds to (or overrides) the current environment."""
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "ukiha_pipeline.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=timeout,
    )
