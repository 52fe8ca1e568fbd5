"""The in-process executor: the cells one after another, each record written as it finishes; a cell
past its time limit (suite.run.time_limit) is stopped by an alarm and recorded failed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tqdm.auto import tqdm

from suite.records.layout import Cell
from suite.records.provenance import config_hash
from suite.records.schema import RunResult
from suite.records.store import ClaimState
from suite.run.grid import Grid, start
from suite.run.plan import GridPlan, GridProgress, GridSummary, estimate_remaining_s
from suite.run.time_limit import cell_limit_s

log = logging.getLogger("suite")


def run_local(
    grid: Grid, cells: list[Cell], on_result: Callable[[RunResult, GridProgress], None] | None = None
) -> GridSummary:
    plan, summary = start(grid, cells)
    try:
        return _run_plan(grid, plan, summary, on_result)
    finally:
        grid.store.close()


def _run_plan(
    grid: Grid, plan: GridPlan, summary: GridSummary, on_result: Callable[[RunResult, GridProgress], None] | None
) -> GridSummary:
    pending = [cell for cell, _, _ in plan.to_run]
    bar = tqdm(plan.to_run, desc="cells", unit="cell", disable=not grid.execution.progress)
    for index, (cell, method, config) in enumerate(bar):
        bar.set_postfix_str(cell.label)
        with grid.store.claim(cell, config_hash(config)) as claim:
            if claim.state is ClaimState.BUSY:  # another run on this results folder is computing it now
                log.info("%s: being computed by another run; skipped", cell.label)
                summary.busy.append(cell)
                continue
            if claim.state is ClaimState.FINISHED:  # that other run finished it while this one waited
                summary.skipped.append(cell)
                continue
            if claim.state is ClaimState.FAILED:  # the folder stopped taking files: not computed
                result, files = grid.runner.unclaimed(cell, method, config, claim.error or ""), None
            else:
                limit_s = cell_limit_s(grid.spec.preset.cell_timeout, summary.ran, cell)
                result, files = grid.runner.run(cell, method, config, limit_s)
            grid.store.write(cell, result, files)
        summary.ran.append(result)
        if on_result is not None:
            remaining = pending[index + 1 :]
            on_result(result, GridProgress(index + 1, len(pending), estimate_remaining_s(summary.ran, remaining)))
    return summary
