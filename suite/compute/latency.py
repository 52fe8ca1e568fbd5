"""Latency of a model's forward pass on the cell's device: warm-up, then the median of repeated runs.

Sparse models on the CPU are also timed with their encoder linear layers as torch CSR sparse
matrices; the faster kernel gives the headline number and both are kept in the record. On a GPU
every forward is bracketed by a device synchronize, so the interval covers the queued kernels.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from suite.compute.device import CPU, Placement
from suite.flops import encoder_linears

# Below this density of the encoder linear weights, CSR kernels are tried (at 80% sparsity they
# lose to dense on this class of CPU; at 95% they win).
CSR_MAX_DENSITY = 0.3


class CSRLinear(nn.Module):
    """y = x Wᵀ + b with W stored as a CSR sparse matrix (inference only)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and timed anyway
            warnings.simplefilter("ignore", UserWarning)
            self.weight_csr = linear.weight.detach().to_sparse_csr()
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The CSR matmul has fp32 kernels only (none for bf16): under autocast it would be handed
        # bf16 operands, so it runs outside autocast in the weight's dtype.
        with torch.autocast(device_type=x.device.type, enabled=False):
            rows = x.shape[:-1].numel()
            # A structured method can remove every input of a matrix (a layer's whole FFN): reshape's -1
            # is then ambiguous, so the rows are counted from the leading dimensions.
            flat = x.reshape(rows, self.in_features).to(self.weight_csr.dtype)
            out = torch.sparse.mm(self.weight_csr, flat.t()).t()
            if self.bias is not None:
                out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)


def with_csr_linears(model: nn.Module) -> nn.Module:
    """A copy of `model` whose six encoder matrices per layer run as CSR sparse matmuls."""
    sparse = copy.deepcopy(model)
    names = {id(linear): name for name, linear in encoder_linears(sparse)}
    for parent in list(sparse.modules()):
        for child_name, child in list(parent.named_children()):
            if id(child) in names:
                setattr(parent, child_name, CSRLinear(child))
    return sparse


def encoder_density(model: nn.Module) -> float:
    total = nonzero = 0
    for _, linear in encoder_linears(model):
        total += linear.weight.numel()
        nonzero += int(torch.count_nonzero(linear.weight))
    return nonzero / max(total, 1)


@torch.inference_mode()
def time_forward(
    model: nn.Module,
    seq_len: int,
    batch_sizes: Sequence[int],
    warmup: int,
    repeats: int,
    vocab_size: int,
    placement: Placement = CPU,
) -> dict[str, float]:
    """Median milliseconds per forward pass at full length (no padding), one entry per batch."""
    return time_interleaved({"model": model}, seq_len, batch_sizes, warmup, repeats, vocab_size, placement)["model"]


@torch.inference_mode()
def time_interleaved(
    models: dict[str, nn.Module],
    seq_len: int,
    batch_sizes: Sequence[int],
    warmup: int,
    repeats: int,
    vocab_size: int,
    placement: Placement = CPU,
) -> dict[str, dict[str, float]]:
    """Median milliseconds per forward pass of each model, timed in turn within every repeat.

    Interleaving puts every model under the same background load (this machine is shared), so the
    ratio of two medians is a side-by-side measurement even when the absolute figures drift.
    """
    generator = torch.Generator().manual_seed(0)
    for model in models.values():
        model.eval()
    times: dict[str, dict[str, list[float]]] = {name: {} for name in models}
    for batch in batch_sizes:
        ids = torch.randint(1000, vocab_size, (batch, seq_len), generator=generator).to(placement.device)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        for model in models.values():
            for _ in range(warmup):
                with placement.autocast():
                    model(**inputs)
        key = f"batch_{batch}"
        for _ in range(repeats):
            for name, model in models.items():
                placement.synchronize()
                start = time.perf_counter()
                with placement.autocast():
                    model(**inputs)
                placement.synchronize()
                times[name].setdefault(key, []).append((time.perf_counter() - start) * 1000.0)
    return {name: {key: statistics.median(v) for key, v in per_batch.items()} for name, per_batch in times.items()}


def measure_latency(
    model: nn.Module,
    seq_len: int,
    batch_sizes: Sequence[int] = (1, 32),
    warmup: int = 2,
    repeats: int = 5,
    reference: nn.Module | None = None,
    placement: Placement = CPU,
) -> dict:
    """Dense-kernel timings, CSR timings for sparse models (`kernel` names the faster one) and, with a
    `reference` (the unpruned model), its timings and `speedup` = reference ms / model ms per batch,
    all timed side by side."""
    vocab = model.config.vocab_size
    models = {"dense": model}
    # CSR kernels are tried on the CPU only, where they are known to win at high sparsity.
    if placement.device.type == "cpu" and encoder_density(model) <= CSR_MAX_DENSITY:
        models["csr"] = with_csr_linears(model)
    if reference is not None:
        models["reference"] = reference
    timed = time_interleaved(models, seq_len, batch_sizes, warmup, repeats, vocab, placement)
    dense = timed["dense"]
    out: dict = {
        "device": placement.device.type,
        "precision": placement.precision,
        "threads": torch.get_num_threads(),
        "seq_len": seq_len,
        "repeats": repeats,
        "kernel": "dense",
        **dense,
        "dense": dense,
        "csr": timed.get("csr"),
    }
    largest = f"batch_{max(batch_sizes)}"
    if "csr" in timed and timed["csr"][largest] < dense[largest]:
        out.update(kernel="csr", **timed["csr"])
    if reference is not None:
        out["reference"] = timed["reference"]
        out["speedup"] = {key: timed["reference"][key] / out[key] for key in dense}
    return out
