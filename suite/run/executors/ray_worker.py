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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from suite.compute.data import TaskData
from suite.compute.device import Placement
from suite.records.layout import Cell
from suite.records.schema import RunResult
from suite.registry import load_plugins
from suite.run.harness import CellFiles, Harness
from suite.run.teachers import pack_teacher, unpack_teacher
from suite.spec.presets import Preset


@dataclass(frozen=True)
class WorkerSpec:
    """The run's settings, as the driver resolved them."""

    preset: Preset
    glue_dir: Path | None  # recorded as the data's location; the data itself comes from the driver
    device: str  # a resolved device ("cpu", "cuda"): a worker resolves "cuda" to the GPU Ray gave it
    precision: str  # a resolved precision (never "auto": it must be the one in the config hash)
    plugins: tuple[str, ...] = ()
    threads: int | None = None  # torch threads per worker (the CPUs Ray reserved for the cell)
    executor: str = "ray"
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)  # knobs per method, typed
    save_models: bool = False  # pack each finished cell's model for the driver to keep


@dataclass
class CellOutcome:
    result: RunResult
    files: CellFiles
    log: str  # the cell's log lines, for the driver to write under the results folder


@dataclass
class TeacherOutcome:
    files: dict[str, bytes]  # pack_teacher's bytes
    log: str


_HARNESSES: dict[str, Harness] = {}
_PLUGINS_LOADED: set[str] = set()


def worker_harness(spec: WorkerSpec) -> Harness:
    """One harness per worker process and spec: tokenizer, reference models and the latency memo are
    built once and reused by every cell the process runs."""
    key = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    if key not in _HARNESSES:
        load_plugins([p for p in spec.plugins if p not in _PLUGINS_LOADED])
        _PLUGINS_LOADED.update(spec.plugins)
        if spec.threads:
            torch.set_num_threads(spec.threads)
        placement = Placement.from_flags(spec.device, spec.precision)
        scratch = Path(tempfile.mkdtemp(prefix="prune_suite_worker_"))  # never read by the driver
        harness = Harness(
            spec.preset,
            scratch / "results",
            spec.glue_dir,
            scratch / "cache",
            False,
            placement,
            method_args=spec.method_args,
            save_models=spec.save_models,
        )
        harness.executor = spec.executor
        _HARNESSES[key] = harness
    return _HARNESSES[key]


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
        harness = worker_harness(spec)
        harness.use_task_data(task, data)
        teacher = harness.teacher(task, seed)
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
        harness = worker_harness(spec)
        harness.use_task_data(cell.task, data)
        if teacher_files is not None:
            teacher = unpack_teacher(teacher_files)
            expected = harness.teacher_key(cell.task, cell.seed)
            if teacher.meta["id"] != expected:
                raise RuntimeError(f"the driver sent teacher {teacher.meta['id']}, this cell needs {expected}")
            harness.teachers.remember(expected, teacher)
        method = harness.method(cell.method)
        result, files = harness.run_cell(cell, method, config)
    return CellOutcome(result, files, captured.text)


def spec_for(harness: Harness, plugins: tuple[str, ...], threads: int | None, device: str) -> WorkerSpec:
    """The spec of a driver's harness: its preset, data location and precision."""
    glue_dir = None if harness.glue_dir is None else Path(harness.glue_dir).resolve()
    return WorkerSpec(
        preset=harness.preset,
        glue_dir=glue_dir,
        device=device,
        precision=harness.placement.precision,
        plugins=tuple(str(Path(p).resolve()) if p.endswith(".py") else p for p in plugins),
        threads=threads,
        method_args=harness.method_args,
        save_models=harness.save_models,
    )


__all__ = [
    "CellOutcome",
    "TeacherOutcome",
    "WorkerSpec",
    "run_cell",
    "spec_for",
    "train_teacher",
    "worker_harness",
]
