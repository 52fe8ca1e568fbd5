"""What every cell of a process reads, loaded once per process: tokenizer, task data, reference
models and their FLOPs, provenance."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from torch import nn
from transformers import DataCollatorWithPadding

from suite.compute.data import TaskData, load_task, tokenize
from suite.compute.device import Placement, hardware
from suite.compute.models import load_model, load_tokenizer
from suite.flops import FlopReport, count_flops
from suite.records.layout import Cell
from suite.records.provenance import git_sha, versions
from suite.spec.presets import Preset
from suite.spec.splits import HELDOUT, scored_task
from suite.spec.tasks import get_task


class Inputs:
    def __init__(self, preset: Preset, glue_dir: Path | None, placement: Placement) -> None:
        self.preset = preset
        self.glue_dir = glue_dir
        self.placement = placement
        self._tokenizer = None
        self._data: dict[str, TaskData] = {}
        self._reference: dict[str, FlopReport] = {}
        self._reference_models: dict[str, nn.Module] = {}
        self._reference_on_device: dict[str, nn.Module] = {}
        self._provenance: dict[str, Any] | None = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.preset.model)
        return self._tokenizer

    @property
    def collator(self) -> DataCollatorWithPadding:
        return DataCollatorWithPadding(self.tokenizer, return_tensors="pt")

    def task_data(self, task_name: str) -> TaskData:
        """Parsed, subsampled and tokenized data of one task (loaded once per process)."""
        if task_name not in self._data:
            preset = self.preset
            raw = load_task(
                get_task(task_name),
                self.glue_dir,
                preset.max_train_samples,
                preset.max_eval_samples,
                preset.data_seed,
                preset.heldout,
            )
            max_len = preset.train.max_seq_length
            heldout = None if raw.heldout is None else tokenize(raw.heldout, self.tokenizer, max_len)
            # Scored on the held-out part, a cell is evaluated on it alone (dev is never looked at).
            evals = {HELDOUT: heldout} if preset.eval_split == HELDOUT else raw.evals
            self._data[task_name] = TaskData(
                scored_task(raw.task, preset.eval_split),
                tokenize(raw.train, self.tokenizer, max_len),
                {s: ds if ds is heldout else tokenize(ds, self.tokenizer, max_len) for s, ds in evals.items()},
                raw.sha256,
                heldout,
                raw.heldout_sha256,
            )
        return self._data[task_name]

    def use_task_data(self, task_name: str, data: TaskData) -> None:
        """Data prepared elsewhere (a Ray worker gets the driver's, so no worker reads files)."""
        self._data[task_name] = data

    def check(self, cells: list[Cell]) -> None:
        """Load what every cell of `cells` needs, so bad data, model or tokenizer fail before the grid."""
        for task_name in dict.fromkeys(c.task for c in cells):
            self.task_data(task_name)
            self.reference_flops(task_name)

    def reference_model(self, task_name: str) -> nn.Module:
        """The unpruned model for this task (pre-trained weights, fresh head), on the CPU: the FLOP
        reference and what planning inspects (a driver that only plans may have no GPU)."""
        if task_name not in self._reference_models:
            self._reference_models[task_name] = load_model(self.preset.model, get_task(task_name), seed=0).eval()
        return self._reference_models[task_name]

    def reference_on_device(self, task_name: str) -> nn.Module:
        """The reference model on the cell's device: what latency is timed against."""
        if self.placement.device.type == "cpu":
            return self.reference_model(task_name)
        if task_name not in self._reference_on_device:
            model = copy.deepcopy(self.reference_model(task_name))
            self._reference_on_device[task_name] = model.to(self.placement.device)
        return self._reference_on_device[task_name]

    def reference_flops(self, task_name: str) -> FlopReport:
        """Dense FLOPs of the unpruned model: the denominator of every budget for this task."""
        if task_name not in self._reference:
            self._reference[task_name] = count_flops(self.reference_model(task_name), self.preset.flop_seq_len)
        return self._reference[task_name]

    def provenance(self) -> dict[str, Any]:
        if self._provenance is None:
            self._provenance = {"versions": versions(), "git_sha": git_sha(), "hardware": hardware()}
        return self._provenance
