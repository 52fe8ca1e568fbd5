"""With a preset: the cells of its grid that a results folder has no record for, without torch.

A run writes no record for a budget out of a method's reach by design (`PruningMethod.unreachable`
decides it from the model, which a torch-free check cannot load), so a missing record alone does not
say that a cell was skipped. What the folder does say, and the rule checked here:

- the reference rows are always reachable: every task's `trivial` row, and every built-in method
  that does not compress (`dense`, `teacher`) at budget 1.0 for every seed;
- the grid is rectangular: reach depends on the model and the budget, not on the task or the seed,
  so a (method, budget) pair with a record on some task and seed needs one on every task and seed;
- a built-in method with no record at any budget of the preset is not a problem (every budget may be
  out of its reach, e.g. `layers` at 0.1), only named in `absent_methods` so the submitter can tell.

Which methods are built in, and which compress, is read from the `methods/` source (discovery), never
imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from suite.discovery import builtin_sources, declared_methods
from suite.records.layout import Cell, cell_path
from suite.records.schema import REFERENCE_BUDGET, ROLE_TRIVIAL
from suite.spec.presets import Preset

TRIVIAL_METHOD = "trivial"  # the harness's data-only row, one per task (its seed is always 0)
TRIVIAL_SEED = 0


def builtin_methods() -> dict[str, bool]:
    """Every method of `methods/` and whether it compresses (`MethodInfo.budgeted`; True where the
    source does not say it as a literal, the default), from the source alone."""
    found: dict[str, bool] = {}
    for source in builtin_sources():
        for declaration in declared_methods(source) or []:
            found[declaration.name] = declaration.budgeted is not False
    return dict(sorted(found.items()))


def _present(records: Iterable[dict[str, Any]]) -> set[Cell]:
    """The cells the records name. Any record counts, failed or flawed (its own problems are named
    elsewhere); one whose cell fields are not a string, a number and an integer names no cell."""
    cells = set()
    for record in records:
        task, method, budget, seed = (record.get(k) for k in ("task", "method", "budget", "seed"))
        if record.get("role") == ROLE_TRIVIAL:
            method = TRIVIAL_METHOD
        if not (isinstance(task, str) and isinstance(method, str)):
            continue
        if isinstance(budget, bool) or not isinstance(budget, (int, float)):
            continue
        if isinstance(seed, bool) or not isinstance(seed, int):
            continue
        cells.add(Cell(task, method, float(budget), seed))
    return cells


def required_cells(records: Iterable[dict[str, Any]], preset: Preset) -> tuple[list[Cell], list[str]]:
    """The cells of `preset`'s grid the rule above requires, in grid order, and the built-in methods
    with no record at any of its budgets."""
    present = _present(records)
    builtin = builtin_methods()
    budgets = {float(b) for b in preset.budgets} | {REFERENCE_BUDGET}
    in_grid = [c for c in present if c.task in preset.tasks and c.seed in preset.seeds and c.budget in budgets]
    pairs = {(c.method, c.budget) for c in in_grid if c.method != TRIVIAL_METHOD}
    pairs |= {(name, REFERENCE_BUDGET) for name, budgeted in builtin.items() if not budgeted}
    required = []
    for task in preset.tasks:
        required.append(Cell(task, TRIVIAL_METHOD, REFERENCE_BUDGET, TRIVIAL_SEED))
        for method, budget in sorted(pairs):
            required.extend(Cell(task, method, budget, int(seed)) for seed in preset.seeds)
    absent = [name for name, budgeted in builtin.items() if budgeted and not any(m == name for m, _ in pairs)]
    return required, absent


def compute_command(cell: Cell, preset: Preset, results_dir: Path) -> str:
    """The `run` line that computes `cell` into `results_dir` (a trivial row comes with any run of its
    task; other cells already finished there are skipped)."""
    where = f"--preset {preset.name} --tasks {cell.task}"
    if cell.method == TRIVIAL_METHOD:
        return f"python -m suite run {where} --methods dense --results-dir {results_dir}"
    budget = f" --budgets {cell.budget:g}" if cell.budget != REFERENCE_BUDGET else ""
    return (
        f"python -m suite run {where} --methods {cell.method}{budget} --seeds {cell.seed} --results-dir {results_dir}"
    )


def missing_cells(records: Iterable[dict[str, Any]], preset: Preset, results_dir: Path) -> tuple[list[str], list[str]]:
    """One problem line per required cell without a record (its path, the cell and the command that
    computes it), and the built-in methods absent at every budget."""
    records = list(records)
    present = _present(records)
    required, absent = required_cells(records, preset)
    problems = []
    for cell in required:
        if cell in present:
            continue
        label = f"{cell.task}/{cell.method} budget {cell.budget:g} seed {cell.seed}"
        problems.append(
            f"{cell_path(results_dir, cell.task, cell.method, cell.budget, cell.seed)}: no record for cell "
            f"{label} of preset {preset.name}'s grid; compute it: {compute_command(cell, preset, results_dir)}"
        )
    return problems, absent
