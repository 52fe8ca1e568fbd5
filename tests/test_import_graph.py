"""The import contracts in pyproject.toml (`[tool.importlinter]`) as a test: imports only go down the
layers, the spec, the records, the vectorized metrics and the leaderboard never import torch,
transformers or datasets (not even lazily), and no sibling modules or packages import each other in
a circle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# In a child process: import-linter configures logging with dictConfig, which would disable every
# logger this test session has already created (and so the caplog checks of later tests).
LINT = "from importlinter.cli import lint_imports; raise SystemExit(lint_imports(no_cache=True, no_logo=True))"


def test_import_contracts_are_kept():
    proc = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
