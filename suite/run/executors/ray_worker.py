"""What a worker process does for a distributed executor: train a teacher, or run one cell.

Everything a worker needs arrives as arguments (the run's settings, the tokenized data, the packed
teacher) and everything it produces goes back as its return value (the result, the files beside it:
predictions, training curve, the packed model with `--save-models`; the cell's log), so workers
need no shared filesystem and never write into the results folder: the driver is its only writer.
Nothing here imports Ray; the Ray executor wraps these functions.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from suite.compute.data import TaskData
from suite.compute.device import Placement
from suite.records.layout import Cell
from suite.records.schema import RunResult
from suite.records.store import CellFiles
from suite.registry import load_plugins
from suite.run.cell import CellRunner
from suite.run.fit import Fitter
from suite.run.grid import Grid
from suite.run.identity import Execution, Identity, RunSpec
from suite.run.inputs import Inputs
from suite.run.teachers import Teachers, pack_teacher, unpack_teacher


@dataclass(frozen=True)
class WorkerSpec:
    """The run's settings, as the driver resolved them: what its cells are and how they run."""

    # glue_dir is recorded as the data's location (the data itself comes from the driver); device is a
    # resolved device type ("cpu", "cuda": a worker resolves "cuda" to the GPU Ray gave it); precision
    # is resolved (never "auto": it must be the one in the config hash).
    run: RunSpec
    execution: Execution  # executor "ray", the torch threads per worker (the CPUs Ray reserved for a cell)
    plugins: tuple[str, ...] = ()


@dataclass
class CellOutcome:
    result: RunResult
    files: CellFiles
    log: str  # the cell's log lines, for the driver to write under the results folder


@dataclass
class TeacherOutcome:
    files: dict[str, bytes]  # pack_teacher's bytes
    log: str


@dataclass
class Worker:
    """A worker process's pieces for one spec: no results store, no teacher cache on disk."""

    inputs: Inputs
    identity: Identity
    teachers: Teachers  # in memory: the driver's teachers, or the one this worker trains
    runner: CellRunner


_WORKERS: dict[str, Worker] = {}
_PLUGINS_LOADED: set[str] = set()


def worker_for(spec: WorkerSpec) -> Worker:
    """One set of pieces per worker process and spec: tokenizer, reference models and the latency memo
    are built once and reused by every cell the process runs."""
    key = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    if key not in _WORKERS:
        load_plugins([p for p in spec.plugins if p not in _PLUGINS_LOADED])
        _PLUGINS_LOADED.update(spec.plugins)
        if spec.execution.threads:
            torch.set_num_threads(spec.execution.threads)
        placement = Placement.from_flags(spec.run.device, spec.run.precision)
        inputs = Inputs(spec.run.preset, spec.run.glue_dir, placement)
        identity = Identity(spec.run, inputs)
        fitter = Fitter(inputs, placement, progress=False)
        teachers = Teachers(identity, fitter, placement, cache=None)
        _WORKERS[key] = Worker(inputs, identity, teachers, CellRunner(identity, teachers, fitter, spec.execution))
    return _WORKERS[key]


class _CapturedLog:
    """The suite's log records during one call, as text."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.logger = logging.getLogger("suite")

    def __enter__(self) -> _CapturedLog:
        self.level = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)

    @property
    def text(self) -> str:
        return self.stream.getvalue()


def train_teacher(spec: WorkerSpec, task: str, seed: int, data: TaskData) -> TeacherOutcome:
    """Train the (task, seed) teacher and return it packed."""
    with _CapturedLog() as captured:
        worker = worker_for(spec)
        worker.inputs.use_task_data(task, data)
        teacher = worker.teachers.get(task, seed)
        files = pack_teacher(teacher)
    return TeacherOutcome(files, captured.text)


def run_cell(
    spec: WorkerSpec,
    cell: Cell,
    config: dict[str, Any],
    data: TaskData,
    teacher_files: dict[str, bytes] | None,
) -> CellOutcome:
    """One cell, with the driver's config (so its hash is the driver's) and, where the method needs
    one, the driver's teacher: a worker never trains a teacher for a cell."""
    with _CapturedLog() as captured:
        worker = worker_for(spec)
        worker.inputs.use_task_data(cell.task, data)
        if teacher_files is not None:
            teacher = unpack_teacher(teacher_files)
            expected = worker.identity.teacher_key(cell.task, cell.seed)
            if teacher.meta["id"] != expected:
                raise RuntimeError(f"the driver sent teacher {teacher.meta['id']}, this cell needs {expected}")
            worker.teachers.remember(expected, teacher)
        method = worker.identity.method(cell.method, cell.task)
        result, files = worker.runner.run(cell, method, config)
    return CellOutcome(result, files, captured.text)


def spec_for(grid: Grid, plugins: tuple[str, ...], threads: int | None, device: str) -> WorkerSpec:
    """The spec of a driver's grid: its cells' settings (the data folder resolved), run on Ray."""
    glue_dir = None if grid.spec.glue_dir is None else Path(grid.spec.glue_dir).resolve()
    return WorkerSpec(
        run=dataclasses.replace(grid.spec, glue_dir=glue_dir, device=device),
        execution=dataclasses.replace(grid.execution, executor="ray", progress=False, threads=threads),
        plugins=tuple(str(Path(p).resolve()) if p.endswith(".py") else p for p in plugins),
    )


__all__ = [
    "CellOutcome",
    "TeacherOutcome",
    "Worker",
    "WorkerSpec",
    "run_cell",
    "spec_for",
    "train_teacher",
    "worker_for",
]
