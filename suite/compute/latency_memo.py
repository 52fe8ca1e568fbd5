"""Latency once per distinct architecture in a run.

A forward pass's time depends on the shapes of the model's tensors and, where sparse (CSR) kernels
are tried, on how many nonzeros each encoder matrix keeps; not on the weights' values. Cells whose
finalized models agree on both (every seed of `dense`, every seed of a structured method that lands
on the same shapes, sparse models with the same per-matrix nonzero counts) reuse the figures timed
for the first of them. The reused figures are still a same-run measurement: they were timed side
by side with the unpruned reference, in this process, on this device.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence

import torch
from torch import nn

from suite.compute.device import CPU, Placement
from suite.compute.latency import CSR_MAX_DENSITY, encoder_density, measure_latency
from suite.flops import encoder_linears


def architecture_key(model: nn.Module, reference: nn.Module | None = None) -> str:
    """A short hash of what the latency of `model` (and of its reference) depends on."""

    def shapes(module: nn.Module) -> list:
        return [[name, list(tensor.shape), str(tensor.dtype)] for name, tensor in module.state_dict().items()]

    description: dict = {"model": shapes(model), "class": type(model).__name__}
    if encoder_density(model) <= CSR_MAX_DENSITY:  # CSR kernels will be timed: their cost follows nnz
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
    ) -> None:
        self.seq_len = seq_len
        self.batch_sizes = tuple(batch_sizes)
        self.repeats = repeats
        self.placement = placement
        self._timed: dict[str, tuple[str, dict]] = {}

    def __len__(self) -> int:
        return len(self._timed)

    def measure(self, model: nn.Module, cell_label: str, reference: nn.Module | None = None) -> dict:
        key = architecture_key(model, reference)
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
        self._timed[key] = (cell_label, copy.deepcopy(figures))
        return {**figures, "architecture": key, "timed_in": cell_label, "reused": False}
