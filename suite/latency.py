"""CPU latency of a model's forward pass: warm-up, then the median of repeated runs.

Sparse models are also timed with their encoder linear layers as torch CSR sparse matrices; the
faster kernel gives the headline number and both are kept in the record.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Sequence

import torch
from torch import nn

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
        flat = x.reshape(-1, self.in_features)
        out = torch.sparse.mm(self.weight_csr, flat.t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)


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
    model: nn.Module, seq_len: int, batch_sizes: Sequence[int], warmup: int, repeats: int, vocab_size: int
) -> dict[str, float]:
    """Median milliseconds per forward pass at full length (no padding), one entry per batch."""
    model.eval()
    generator = torch.Generator().manual_seed(0)
    out: dict[str, float] = {}
    for batch in batch_sizes:
        ids = torch.randint(1000, vocab_size, (batch, seq_len), generator=generator)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        for _ in range(warmup):
            model(**inputs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(**inputs)
            times.append((time.perf_counter() - start) * 1000.0)
        out[f"batch_{batch}"] = statistics.median(times)
    return out


def measure_latency(
    model: nn.Module,
    seq_len: int,
    batch_sizes: Sequence[int] = (1, 32),
    warmup: int = 2,
    repeats: int = 5,
) -> dict:
    """Dense-kernel timings, plus CSR timings for sparse models; `kernel` names the faster one."""
    vocab = model.config.vocab_size
    dense = time_forward(model, seq_len, batch_sizes, warmup, repeats, vocab)
    out: dict = {
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "seq_len": seq_len,
        "repeats": repeats,
        "kernel": "dense",
        **dense,
        "dense": dense,
        "csr": None,
    }
    if encoder_density(model) <= CSR_MAX_DENSITY:
        csr = time_forward(with_csr_linears(model), seq_len, batch_sizes, warmup, repeats, vocab)
        out["csr"] = csr
        largest = f"batch_{max(batch_sizes)}"
        if csr[largest] < dense[largest]:
            out.update(kernel="csr", **csr)
    return out
