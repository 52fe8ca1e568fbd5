"""The identity of every cell is frozen: the config hash of each cell of the smoke grid (every
built-in method, on the shipped fixture data, in fp32 and bf16 on the CPU), each teacher cache key
and each trivial row's hash must stay what `tests/run/golden/smoke_hashes.json` holds. A change here
redoes every finished cell and retrains every cached teacher, so it is never a side effect of a
refactoring; regenerate the file only for a deliberate change of what a cell computes, and say so."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FIXTURE_GLUE

GOLDEN = Path(__file__).parent / "golden" / "smoke_hashes.json"


def current_hashes(cache_dir: Path) -> dict[str, dict[str, str]]:
    """Cell label -> config hash, (task, seed, precision) -> teacher key, task -> trivial hash."""
    import torch

    from suite.compute.device import Placement
    from suite.records.provenance import config_hash
    from suite.run.grid import Grid
    from suite.run.plan import expand_grid, plan_grid
    from suite.run.trivial import write_trivial_rows
    from suite.spec.presets import get_preset

    # The shipped smoke grid, widened to every budget of the cpu preset and two seeds.
    preset = get_preset("smoke").with_overrides(budgets=(0.5, 0.25, 0.1), seeds=(0, 1))
    cells: dict[str, str] = {}
    teachers: dict[str, str] = {}
    trivial: dict[str, str] = {}
    # A knob set on the command line is part of its cells' identity.
    knobs = {"ksp": {"mask_updates": 50}, "cofi": {"mask_travel": 10.0}}
    for precision, method_args in (("fp32", {}), ("bf16", {}), ("bf16+knobs", knobs)):
        placement = Placement(torch.device("cpu"), precision.split("+")[0])
        grid = Grid.build(
            preset, cache_dir / "results", FIXTURE_GLUE, cache_dir, placement, method_args, read_only=True
        )
        # The methods of methods/: a plugin another test registered in this process is no part of it.
        methods = list(method_args) if method_args else current_methods()
        plan = plan_grid(grid.identity, grid.store, expand_grid(preset, methods))
        assert not plan.broken, plan.broken
        for cell, _method, config in plan.to_run:
            cells[f"{precision}/{cell.label}"] = config_hash(config)
        for task in preset.tasks:
            for seed in preset.seeds:
                teachers[f"{precision}/{task}/s{seed}"] = grid.identity.teacher_key(task, seed)
        for cell, _reason in plan.unreachable:
            cells[f"{precision}/{cell.label}"] = "not run"
    # The trivial rows depend on the data alone: written once, their hashes read back.
    for result in write_trivial_rows(grid.identity, grid.store, list(preset.tasks)):
        trivial[result.task] = result.config_hash
    return {"cells": cells, "teachers": teachers, "trivial": trivial}


def test_cell_identities_are_frozen(tmp_path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    current = current_hashes(tmp_path)
    assert current["teachers"] == golden["teachers"] and current["trivial"] == golden["trivial"]
    # Every frozen cell keeps its hash. A method added since the file was written brings cells of its
    # own and changes none of the others (adding a method is one new folder): those are not frozen yet.
    assert {label: current["cells"].get(label) for label in golden["cells"]} == golden["cells"]
    frozen_methods = {label.split("/")[2] for label in golden["cells"]}
    assert {label.split("/")[2] for label in current["cells"].keys() - golden["cells"].keys()} <= (
        set(current_methods()) - frozen_methods
    )


def current_methods() -> list[str]:
    from suite.records.completeness import builtin_methods

    return sorted(builtin_methods())


if __name__ == "__main__":  # python -m tests.run.test_golden_hashes: (re)write the golden file
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        GOLDEN.write_text(json.dumps(current_hashes(Path(scratch)), indent=1, sort_keys=True) + "\n")
