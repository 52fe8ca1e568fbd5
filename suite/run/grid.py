"""A run of a grid, assembled from its pieces, and the stages every executor starts with.

`Grid` only composes: the per-process inputs, the cells' identity, the results store, the teachers
and the cell runner of one run. `start` is what every executor does first, in the process that
writes the records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.compute.device import CPU, Placement
from suite.records.layout import Cell
from suite.records.provenance import config_hash
from suite.records.runs import RunConfiguration
from suite.records.schema import RunResult
from suite.records.store import ResultStore
from suite.run.cell import CellRunner
from suite.run.fit import Fitter
from suite.run.identity import Execution, Identity, RunSpec
from suite.run.inputs import Inputs
from suite.run.plan import GridPlan, GridSummary, check_inputs, plan_grid
from suite.run.sinks import TensorBoardSink
from suite.run.teachers import Teachers, TeacherStore
from suite.run.trivial import write_trivial_rows
from suite.spec.presets import Preset
from suite.spec.tuned import TunedSettings

log = logging.getLogger("suite")


@dataclass
class Grid:
    spec: RunSpec
    execution: Execution
    inputs: Inputs
    identity: Identity
    store: ResultStore
    teachers: Teachers
    runner: CellRunner

    @classmethod
    def build(
        cls,
        preset: Preset,
        results_dir: Path,
        glue_dir: Path | None,
        cache_dir: Path,
        placement: Placement = CPU,
        method_args: Mapping[str, Mapping[str, Any]] | None = None,
        execution: Execution | None = None,
        read_only: bool = False,
        tuned: TunedSettings | None = None,
        inputs: Inputs | None = None,
    ) -> Grid:
        """The pieces of one run; `read_only`: a run that only plans (its teacher cache is not cleaned);
        `tuned`: the per-(task, method) settings it applies; `inputs`: data and models already loaded
        for `preset` (a tune's trials share them)."""
        execution = execution or Execution()
        spec = RunSpec(
            preset,
            glue_dir,
            placement.device.type,
            placement.precision,
            {name: dict(values) for name, values in (method_args or {}).items()},
            tuned,
        )
        if inputs is None or (inputs.preset, inputs.glue_dir, inputs.placement) != (preset, glue_dir, placement):
            inputs = Inputs(preset, glue_dir, placement)
        identity = Identity(spec, inputs)
        fitter = Fitter(inputs, placement, execution.progress)
        teachers = Teachers(identity, fitter, placement, TeacherStore(cache_dir, clean=not read_only))
        store = ResultStore(results_dir, sinks=[TensorBoardSink()] if execution.tensorboard else [])
        runner = CellRunner(identity, teachers, fitter, execution)
        return cls(spec, execution, inputs, identity, store, teachers, runner)


def run_configuration(identity: Identity, grid_plan: GridPlan, tasks: list[str]) -> RunConfiguration:
    """What this run writes, as another run on its results folder must agree with it: the settings of
    the records of the cells it computes and of its trivial rows (of which only the data are settings),
    and those cells' config hashes."""
    records = [{"task": task, "run_config": {"data": identity.data_config(task)}} for task in tasks]
    hashes = {}
    for cell, _, config in grid_plan.to_run:
        records.append({"task": cell.task, "model": identity.preset.model, "run_config": config})
        hashes[cell.label] = config_hash(config)
    return RunConfiguration.of_records(records, hashes)


def start(grid: Grid, cells: list[Cell]) -> tuple[GridPlan, GridSummary]:
    """Check the input, plan, ready the results folder (this run registered on it), write the trivial
    rows and record the broken cells; what is left to compute is the plan's `to_run`. The executor
    ends with `grid.store.close()`."""
    check_inputs(grid.identity, grid.store, cells)
    grid_plan = plan_grid(grid.identity, grid.store, cells)  # reads records only
    tasks = list(dict.fromkeys(c.task for c in cells))
    # After the input checks: a run refused for its data leaves no empty folder.
    grid.store.start(cells, run_configuration(grid.identity, grid_plan, tasks))
    try:
        summary = GridSummary(skipped=grid_plan.skipped, unreachable=grid_plan.unreachable)
        for cell, reason in grid_plan.unreachable:
            log.info("%s: not run: %s", cell.label, reason)
        if grid_plan.to_run or grid_plan.skipped:  # a grid with nothing to run writes nothing
            write_trivial_rows(grid.identity, grid.store, tasks)
        for cell, error in grid_plan.broken:
            log.error("cell %s failed: %s", cell.label, error.splitlines()[0])
            result = RunResult(cell.method, cell.task, cell.budget, cell.seed, "failed", "", error=error)
            grid.store.write(cell, result, None)
            summary.ran.append(result)
    except BaseException:  # a run that stops here leaves the folder to others at once
        grid.store.close()
        raise
    return grid_plan, summary
