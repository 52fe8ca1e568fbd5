"""Latency once per distinct architecture in a run.

A forward pass's time depends on the shapes of the model's tensors and, where sparse (CSR) kernels
are tried, on how many nonzeros each encoder matrix keeps; not on the weights' values. Cells whose
finalized models agree on both (every seed of `dense`, every seed of a structured method that lands
on the same shapes, sparse models with the same per-matrix nonzero counts) reuse the figures timed
for the first of them. The reused figures are still a same-run measurement: they were timed side
by side with the unpruned reference, in this process, on this device.

With exported-model engines (`engines`), each distinct architecture is also exported to ONNX and timed
on every engine against the same engine's unpruned model; the reference is exported once per shape.
Sparse engines' cost follows the nonzeros, so the key then always includes the per-matrix nonzero counts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from suite.compute.device import CPU, Placement
from suite.compute.engine_latency import time_on_engines
from suite.compute.engines import Engine
from suite.compute.latency import CSR_MAX_DENSITY, encoder_density, measure_latency
from suite.compute.onnx_export import export_onnx
from suite.flops import encoder_linears


def architecture_key(model: nn.Module, reference: nn.Module | None = None, nonzeros: bool = False) -> str:
    """A short hash of what the latency of `model` (and of its reference) depends on; `nonzeros`: the
    per-matrix nonzero counts count whatever the density (sparse engines)."""

    def shapes(module: nn.Module) -> list:
        return [[name, list(tensor.shape), str(tensor.dtype)] for name, tensor in module.state_dict().items()]

    description: dict = {"model": shapes(model), "class": type(model).__name__}
    if nonzeros or encoder_density(model) <= CSR_MAX_DENSITY:  # CSR kernels or sparse engines: cost follows nnz
        description["nonzeros"] = [int(torch.count_nonzero(linear.weight)) for _, linear in encoder_linears(model)]
    if reference is not None:
        description["reference"] = shapes(reference)
    blob = json.dumps(description, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class LatencyMemo:
    """Times each distinct architecture once; later cells with the same one reuse its figures.

    Every returned dict says which architecture it describes (`architecture`), which cell's timing
    it is (`timed_in`) and whether this cell reused it (`reused`).
    """

    def __init__(
        self,
        seq_len: int,
        batch_sizes: Sequence[int],
        repeats: int,
        placement: Placement = CPU,
        engines: Sequence[Engine] = (),
    ) -> None:
        self.seq_len = seq_len
        self.batch_sizes = tuple(batch_sizes)
        self.repeats = repeats
        self.placement = placement
        self.engines = tuple(engines)
        self._timed: dict[str, tuple[str, dict]] = {}
        self._exports: tempfile.TemporaryDirectory | None = None
        self._references: dict[str, Path] = {}  # reference shapes' key -> its exported file

    def __len__(self) -> int:
        return len(self._timed)

    def measure(self, model: nn.Module, cell_label: str, reference: nn.Module | None = None) -> dict:
        key = architecture_key(model, reference, nonzeros=bool(self.engines))
        if key in self._timed:
            timed_in, figures = self._timed[key]
            return {**copy.deepcopy(figures), "architecture": key, "timed_in": timed_in, "reused": True}
        figures = measure_latency(
            model,
            self.seq_len,
            self.batch_sizes,
            repeats=self.repeats,
            reference=reference,  # timed side by side: `speedup` is a same-run ratio
            placement=self.placement,
        )
        if self.engines and reference is not None:
            figures["engines"] = time_on_engines(
                model,
                self._reference_file(reference),
                self.engines,
                self.seq_len,
                self.batch_sizes,
                warmup=2,
                repeats=self.repeats,
                threads=torch.get_num_threads(),
            )
        self._timed[key] = (cell_label, copy.deepcopy(figures))
        return {**figures, "architecture": key, "timed_in": cell_label, "reused": False}

    def _reference_file(self, reference: nn.Module) -> Path:
        """The unpruned model exported once per shape for this memo's life (its timing follows shapes)."""
        key = architecture_key(reference)
        if key not in self._references:
            if self._exports is None:
                self._exports = tempfile.TemporaryDirectory(prefix="suite-reference-onnx-")
            self._references[key] = export_onnx(reference, Path(self._exports.name) / f"{key}.onnx")
        return self._references[key]
