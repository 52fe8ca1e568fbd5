"""`run --dry-run`: what a run would do, from the run's own planning, with nothing trained or written."""

from __future__ import annotations

import sys

from suite.records.layout import Cell
from suite.run.grid import Grid
from suite.run.identity import needs_teacher
from suite.run.plan import preview


def print_plan(grid: Grid, cells: list[Cell]) -> int:
    """One line per cell on stdout (compute, skip, not run, fails) and the teachers the cells to compute
    need (cached or to train); a summary on stderr."""
    plan = preview(grid.identity, grid.store, cells)
    actions: dict[Cell, tuple[str, str]] = {}
    teachers: dict[tuple[str, int], bool] = {}
    for cell, method, _config in plan.to_run:
        actions[cell] = ("compute", "")
        if needs_teacher(method):
            teachers[(cell.task, cell.seed)] = grid.teachers.cached(cell.task, cell.seed)
    for cell in plan.skipped:
        actions[cell] = ("skip", "finished (same config hash)")
    for cell, reason in plan.unreachable:
        actions[cell] = ("not run", reason)
    for cell, error in plan.broken:
        actions[cell] = ("fails", error.splitlines()[0])
    for cell in cells:
        action, note = actions[cell]
        print(
            f"{action:8s} {cell.task:6s} {cell.method:12s} budget {cell.budget:<5g} seed {cell.seed}"
            + (f"  {note}" if note else "")
        )
    for (task, seed), cached in teachers.items():
        print(f"teacher  {task:6s} seed {seed}: {'cached' if cached else 'to train'}")
    to_train = sum(not cached for cached in teachers.values())
    print(
        f"dry run: {len(plan.to_run)} to compute ({to_train} teachers to train), {len(plan.skipped)} finished "
        f"(skipped), {len(plan.unreachable)} unreachable (not run), {len(plan.broken)} failing before training; "
        "nothing was trained or written",
        file=sys.stderr,
    )
    return 0
