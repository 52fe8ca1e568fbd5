"""The grid and its plan: which cells to compute, skip, leave out or record as failed; and the
summary and progress of a run of it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from suite.api import Budget, PruningMethod
from suite.compute.device import Placement, has_native_cpu_bf16
from suite.errors import SuiteError
from suite.records.layout import Cell
from suite.records.provenance import config_hash
from suite.records.schema import FINISHED, RunResult
from suite.records.store import ResultStore
from suite.registry import get_registered
from suite.run.cell import traceback_tail
from suite.run.identity import Identity
from suite.spec.presets import Preset


def expand_grid(preset: Preset, methods: list[str]) -> list[Cell]:
    """task x method x budget x seed; a method that does not compress runs at budget 1.0 only."""
    cells = []
    for task in preset.tasks:
        for method in methods:
            budgets = preset.budgets if get_registered(method).info.budgeted else (1.0,)
            for budget in budgets:
                for seed in preset.seeds:
                    cells.append(Cell(task, method, float(budget), int(seed)))
    return cells


@dataclass
class GridPlan:
    to_run: list[tuple[Cell, PruningMethod, dict[str, Any]]] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    unreachable: list[tuple[Cell, str]] = field(default_factory=list)
    broken: list[tuple[Cell, str]] = field(default_factory=list)  # (cell, error): recorded as failed


@dataclass
class GridSummary:
    ran: list[RunResult] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    # Cells the method cannot reach by design (PruningMethod.unreachable), with the reason: not run.
    unreachable: list[tuple[Cell, str]] = field(default_factory=list)
    busy: list[Cell] = field(default_factory=list)  # being computed by another run at the time: left to it
    teachers_trained: list[tuple[str, int]] = field(default_factory=list)  # (task, seed), Ray executor

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.ran)

    @property
    def any_failed(self) -> bool:
        return self.count("failed") > 0


@dataclass(frozen=True)
class GridProgress:
    done: int  # cells run so far in this invocation (skipped and unreachable cells not counted)
    total: int
    remaining_s: float | None


def plan_grid(identity: Identity, store: ResultStore, cells: list[Cell]) -> GridPlan:
    """Sort the grid into cells to run, finished cells (same config hash), unreachable ones, and
    broken ones (the method's constructor, `unreachable()` or config raised: recorded as failed)."""
    inputs = identity.inputs
    grid = GridPlan()
    for cell in cells:
        try:
            method = identity.method(cell.method, cell.task)
            reason = method.unreachable(
                inputs.reference_model(cell.task), inputs.reference_flops(cell.task), Budget(cell.budget)
            )
            config = None if reason else identity.cell_config(cell, method)
        except (Exception, SystemExit) as exc:  # a plugin's fault is its cells' failure, not the grid's
            grid.broken.append((cell, f"{type(exc).__name__} before training: {exc}\n{traceback_tail(exc)}"))
            continue
        if reason:
            grid.unreachable.append((cell, reason))
            continue
        if store.finished(cell, config_hash(config)):
            grid.skipped.append(cell)
        else:
            grid.to_run.append((cell, method, config))
    return grid


def check_inputs(identity: Identity, store: ResultStore, cells: list[Cell]) -> None:
    """Fail before the grid on bad input that would fail every cell (data, model, tokenizer, a results
    path that is a file); writes nothing."""
    identity.inputs.check(cells)
    store.check_not_a_file()
    check_precision_matches(identity.inputs.placement, store, cells)


def check_precision_matches(placement: Placement, store: ResultStore, cells: list[Cell]) -> None:
    """A precision that `auto` chose must be the one the folder's finished records of these cells ran in.

    `auto` means bf16 on a CPU with native bf16 and fp32 on one without, so a grid resumed on another
    kind of machine would otherwise compute every finished cell again in the other precision (their
    records set aside) and mix precisions across the seeds of one board. An explicit --precision is
    the user's choice and is obeyed."""
    if not placement.from_auto:
        return
    others: Counter[str] = Counter()
    for cell in cells:
        record = store.read(cell)
        if record and record.get("status") in FINISHED and record.get("precision") not in (None, placement.precision):
            others[str(record["precision"])] += 1
    if not others:
        return
    theirs, count = others.most_common(1)[0]
    ours = placement.precision
    emulated = theirs == "bf16" and placement.device.type == "cpu" and not has_native_cpu_bf16()
    raise SuiteError(
        f"results folder {store.root}: {count} finished record(s) of these cells ran in {theirs}, but --precision "
        f"auto means {ours} on this machine ({placement.record['name']}), which would compute them all again; "
        f"run where auto means {theirs}, pass --precision {theirs} to keep them"
        f"{' (emulated on this CPU: far slower)' if emulated else ''}, or --precision {ours} "
        "to recompute them (their records are set aside)"
    )


def preview(identity: Identity, store: ResultStore, cells: list[Cell]) -> GridPlan:
    """What a run of `cells` would do (`run --dry-run`): the input checks and the plan of a run,
    finished records read, and nothing written: no results folder, no record, no teacher."""
    check_inputs(identity, store, cells)
    return plan_grid(identity, store, cells)


def estimate_remaining_s(finished: list[RunResult], pending: list[Cell]) -> float | None:
    """Seconds the pending cells will take, from the cells this run has finished: each pending cell
    costs the mean wall time of finished cells of its task and method, else of its task, else of all.
    Cells of one task share their data size and schedule, and methods differ by up to 3x in step cost."""
    if not pending:
        return 0.0
    timed = [r for r in finished if r.wall_s is not None]
    if not timed:
        return None

    def mean(rows: list[RunResult]) -> float | None:
        return sum(r.wall_s for r in rows) / len(rows) if rows else None

    overall = mean(timed)
    total = 0.0
    for cell in pending:
        same_task = [r for r in timed if r.task == cell.task]
        same_method = [r for r in same_task if r.method == cell.method]
        total += mean(same_method) or mean(same_task) or overall
    return total
