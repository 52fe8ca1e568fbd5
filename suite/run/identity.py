"""What a cell IS, as the dicts behind every config hash and teacher key, apart from how it is run.

`RunSpec` holds every setting that reaches a hash; `Execution` holds those that never do (which
executor, threads, what is kept besides the record, progress bars). Whether a field changes a
cell's identity is answered by the type it lives in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.api import PruningMethod
from suite.compute.data import source_identity
from suite.records.layout import Cell
from suite.records.provenance import config_hash
from suite.registry import get_method, typed_knobs
from suite.run.inputs import Inputs
from suite.spec.presets import Preset
from suite.spec.rules import Lineage, method_lineage, teacher_lineage
from suite.spec.schedules import TrainConfig
from suite.spec.splits import split_config
from suite.spec.tuned import TunedChoice, TunedSettings, knob_overrides

TEACHER_METHOD = "teacher"  # plain fine-tuning for S steps (methods/teacher)


@dataclass(frozen=True)
class RunSpec:
    """The settings every cell's identity is made of (the data folder by its content hash and kind)."""

    preset: Preset
    glue_dir: Path | None
    # The device type and precision change the numbers; the device's name (which GPU or CPU model)
    # is only recorded, so a cluster of mixed GPUs does not redo finished cells.
    device: str  # a device type: "cpu", "cuda", "mps"
    precision: str  # resolved, never "auto"
    # Knobs set per method (suite.spec.knobs: typed, checked); they change the method's Config.
    method_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Settings `tune` chose per (task, method) (suite.spec.tuned): knobs under method_args (the command
    # line wins) and the cell's learning rate. Hashed through what they set, not as a file.
    tuned: TunedSettings | None = None


@dataclass(frozen=True)
class Execution:
    """How the cells are run; nothing here reaches a config hash."""

    executor: str = "local"  # recorded with the host
    progress: bool = True
    save_models: bool = False  # keep each finished cell's model beside its record
    tensorboard: bool = False  # the training curves as TensorBoard runs too
    threads: int | None = None  # torch threads per worker process (distributed executors)


def uses_teacher(method: PruningMethod) -> bool:
    """The cell depends on the (task, seed) teacher: it distils from it or starts from its weights,
    so the teacher's key is part of the cell's config."""
    return method.info.needs_teacher or method.start == "teacher"


def needs_teacher(method: PruningMethod) -> bool:
    """Running the cell needs the (task, seed) teacher: it depends on it, or it is the teacher."""
    return method.info.is_teacher or uses_teacher(method)


def method_config(method: PruningMethod) -> dict[str, Any]:
    """A method's Config as JSON-safe data (a Path or an enum field becomes its string), so the record
    that carries it can always be written; the config hash sees the same strings."""
    config = method.config
    raw = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
    return json.loads(json.dumps(raw, default=str))


class Identity:
    """The identity of a run's cells and teachers, from its RunSpec and the data it loaded."""

    def __init__(self, spec: RunSpec, inputs: Inputs) -> None:
        self.spec = spec
        self.inputs = inputs
        self.method_args = {name: dict(values) for name, values in spec.method_args.items()}

    @property
    def preset(self) -> Preset:
        return self.spec.preset

    def _choice(self, task: str, name: str) -> TunedChoice | None:
        """What the run's tuned file chose for (task, method), or None (no file, or nothing for it)."""
        return self.spec.tuned.choice(task, name) if self.spec.tuned is not None else None

    def _tuned_knobs(self, task: str, name: str) -> dict[str, Any]:
        choice = self._choice(task, name)
        return typed_knobs(name, choice.knobs, f"tuned file {self.spec.tuned.file}") if choice else {}

    def knobs(self, task: str, name: str) -> dict[str, Any]:
        """The knobs of `name`'s cells of `task`: the tuned ones, then the command line's over them."""
        return {**self._tuned_knobs(task, name), **self.method_args.get(name, {})}

    def method(self, name: str, task: str) -> PruningMethod:
        """A fresh instance of the method `name`, with this run's knobs for its cells of `task`."""
        return get_method(name, self.knobs(task, name))

    def train_for(self, task: str, name: str) -> TrainConfig:
        """The training settings of `name`'s cells of `task`: the preset's, at the tuned learning rate
        where the run applies a tuned file that has one."""
        train = self.preset.train_for(task)
        choice = self._choice(task, name)
        return train if choice is None else dataclasses.replace(train, learning_rate=choice.learning_rate)

    def tuning(self, task: str, name: str) -> dict[str, Any] | None:
        """The record's `tuning` for `name`'s cells of `task`: where its settings came from, or None."""
        if self._choice(task, name) is None:
            return None
        overridden = knob_overrides(self._tuned_knobs(task, name), self.method_args.get(name, {}))
        return self.spec.tuned.record(task, name, overridden)

    def data_config(self, task: str) -> dict[str, Any]:
        """What decides the data a cell sees. The folder's path is left out (a copy elsewhere with the
        same content is the same data); its content hash is in."""
        p = self.preset
        data = self.inputs.task_data(task)
        heldout_size = 0 if data.heldout is None else len(data.heldout)
        return {
            **split_config(p.heldout, heldout_size, data.heldout_sha256, p.eval_split),
            "max_train_samples": p.max_train_samples,
            "max_eval_samples": p.max_eval_samples,
            "data_seed": p.data_seed,
            "max_seq_length": p.train.max_seq_length,
            "data_source": source_identity(self.spec.glue_dir)["source"],
            "data_sha256": data.sha256,
            "data_augmentation": False,  # no method trains on augmented data (see methods/ksp card)
        }

    def data_identity(self, task: str) -> dict[str, str]:
        """The record's `data`: which source (folder path or hub id) and the content hash."""
        return {**source_identity(self.spec.glue_dir), "sha256": self.inputs.task_data(task).sha256}

    def teacher_config(self, task: str, seed: int) -> dict[str, Any]:
        return {
            "model": self.preset.model,
            "task": task,
            "seed": seed,
            "method": TEACHER_METHOD,
            "train": dataclasses.asdict(self.train_for(task, TEACHER_METHOD)),
            "data": self.data_config(task),
            "device": self.spec.device,
            "precision": self.spec.precision,
        }

    def teacher_key(self, task: str, seed: int) -> str:
        """The teacher cache key of (task, seed) under this run's settings."""
        return config_hash(self.teacher_config(task, seed))

    def teacher_steps(self, task: str) -> int:
        """S: the teacher's optimizer steps, the unit of the training rule."""
        return self.preset.train_for(task).total_steps(len(self.inputs.task_data(task).train))

    def lineage(self, task: str, method: PruningMethod) -> Lineage:
        """The training rule for the method's cells: its starting weights and its own steps."""
        steps = self.teacher_steps(task)
        return teacher_lineage(steps) if method.info.is_teacher else method_lineage(method.start, steps)

    def teacher_lineage(self, task: str) -> Lineage:
        return teacher_lineage(self.teacher_steps(task))

    def cell_config(self, cell: Cell, method: PruningMethod) -> dict[str, Any]:
        config = self.teacher_config(cell.task, cell.seed)
        config.update(
            method=cell.method,
            train=dataclasses.asdict(self.train_for(cell.task, cell.method)),
            method_config=method_config(method),
            budget=cell.budget,
            flop_seq_len=self.preset.flop_seq_len,
            lineage=dataclasses.asdict(self.lineage(cell.task, method)),
            pruning_schedule=dataclasses.asdict(self.preset.pruning_schedule),
        )
        if uses_teacher(method):
            config["teacher"] = self.teacher_key(cell.task, cell.seed)
        return config
