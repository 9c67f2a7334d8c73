"""The `ukiha` command in a real process, as a steward runs it (exit codes, stdout, stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ukiha_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment with this checkout importable; `env` adds to (or overrides) it."""
    return {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}


def ukiha_argv(*args: str, python_flags: Sequence[str] = ()) -> list[str]:
    """`python [python_flags] -m ukiha_pipeline.cli args`."""
    return [sys.executable, *python_flags, "-m", "ukiha_pipeline.cli", *args]


def ukiha(
    *args: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    python_flags: Sequence[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `ukiha args` (`ukiha_argv`) in `ukiha_env(env)` and wait for it."""
    return subprocess.run(
        ukiha_argv(*args, python_flags=python_flags),
        cwd=cwd,
        capture_output=True,
        text=True,
        env=ukiha_env(env),
        timeout=timeout,
    )
