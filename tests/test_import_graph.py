"""The import contracts in pyproject.toml (`[tool.importlinter]`) as a test: imports only go down the
layers, the spec, the records, the vectorized metrics and the leaderboard never import torch,
transformers or datasets (not even lazily), and no sibling modules or packages import each other in
a circle."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the root package is found from the checkout, as `lint-imports` finds it
    exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out
