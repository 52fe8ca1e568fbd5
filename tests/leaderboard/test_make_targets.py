"""`make leaderboard` and `make cpu-leaderboard`: validate before the board, and `run`'s exit status
honoured. The targets run against a stand-in interpreter that logs each call and exits as told."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = """#!/bin/sh
echo "$3" >> "$CALLS"
case "$3" in
  run) exit "$RUN_STATUS" ;;
  validate) exit "$VALIDATE_STATUS" ;;
esac
exit 0
"""


def make(tmp_path: Path, target: str, run: int = 0, validate: int = 0) -> tuple[int, list[str], str]:
    """`make target` in a copy of the Makefile whose venv is installed already; (exit status, the
    subcommands called in order, stderr)."""
    checkout = tmp_path / "checkout"
    if not checkout.exists():
        checkout.mkdir()
        for name in ("Makefile", "pyproject.toml"):
            shutil.copy(ROOT / name, checkout / name)
        python = checkout / ".venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text(STAND_IN)
        python.chmod(0o755)
        installed = checkout / ".venv" / ".installed"
        installed.touch()
        later = time.time() + 60
        os.utime(installed, (later, later))  # newer than the Makefile: nothing to install
    calls = tmp_path / "calls.log"
    calls.unlink(missing_ok=True)
    env = {**os.environ, "CALLS": str(calls), "RUN_STATUS": str(run), "VALIDATE_STATUS": str(validate)}
    done = subprocess.run(["make", "-s", target], cwd=checkout, env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, calls.read_text().split() if calls.exists() else [], done.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_leaderboard_validates_first_and_stops_on_problems_saying_what_to_do(tmp_path):
    assert make(tmp_path, "leaderboard")[:2] == (0, ["validate", "leaderboard"])
    code, calls, err = make(tmp_path, "leaderboard", validate=1)
    assert code != 0 and calls == ["validate"]
    assert "does not pass validate" in err and "recompute them with make cpu-leaderboard" in err


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
@pytest.mark.parametrize(
    ("run", "calls"),
    [
        (0, ["run", "validate", "leaderboard"]),
        (1, ["run", "validate", "leaderboard"]),  # cells failed: the board shows them, the status stays
        (2, ["run"]),  # bad input: nothing more
    ],
)
def test_cpu_leaderboard_honours_the_runs_exit_status(tmp_path, run, calls):
    code, called, _ = make(tmp_path, "cpu-leaderboard", run=run)
    assert called == calls and (code == 0) == (run == 0)
