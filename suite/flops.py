"""FLOPs and parameters of BERT-family classifiers, by the suite's FLOP rule (the contract).

FLOPs = 2 x multiply-accumulates of one forward pass of one example at `seq_len` tokens:
- every encoder linear layer (Q, K, V, attention output, FFN in, FFN out) on every token;
- attention scores and context: 2 x n^2 x d_head MACs per kept head;
- the pooler and the classifier, applied to one token.
Not counted: embedding lookups, biases, LayerNorm, softmax, GELU.

`dense` reads the shapes (removed heads, neurons and layers show); `effective` scales each linear
layer by its fraction of nonzero weights (masks show). Attention products are not reduced by
weight sparsity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn

DEFAULT_SEQ_LEN = 128

Density = Callable[[nn.Linear], float]


def nonzero_density(linear: nn.Linear) -> float:
    """Fraction of nonzero entries of the weight the layer multiplies with."""
    weight = linear.weight
    if weight.is_meta:  # shapes only (FLOP counting without allocating weights): dense
        return 1.0
    return float(torch.count_nonzero(weight)) / weight.numel() if weight.numel() else 0.0


@dataclass(frozen=True)
class FlopReport:
    seq_len: int
    dense: float
    effective: float
    attention: float  # part of both numbers above
    encoder_linear_flops: float  # dense FLOPs of the six encoder matrices of every layer
    encoder_linear_weights: int  # entries of the six encoder matrices of every layer
    encoder_linear_nonzero: float
    params_total: int
    params_nonzero: int

    @property
    def encoder_linear_density(self) -> float:
        return self.encoder_linear_nonzero / max(self.encoder_linear_weights, 1)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["encoder_linear_density"] = self.encoder_linear_density
        return out


def _base(model: nn.Module) -> nn.Module:
    base = getattr(model, "base_model", model)
    if not hasattr(base, "encoder") or not hasattr(base.encoder, "layer"):
        raise TypeError(f"{type(model).__name__} is not a BERT-family model (no encoder.layer)")
    return base


def encoder_linears(model: nn.Module) -> Iterator[tuple[str, nn.Linear]]:
    """The six prunable matrices of every encoder layer, with stable names."""
    for i, layer in enumerate(_base(model).encoder.layer):
        attn = layer.attention
        yield f"layer.{i}.query", attn.self.query
        yield f"layer.{i}.key", attn.self.key
        yield f"layer.{i}.value", attn.self.value
        yield f"layer.{i}.attention_output", attn.output.dense
        yield f"layer.{i}.ffn_in", layer.intermediate.dense
        yield f"layer.{i}.ffn_out", layer.output.dense


def _head_linears(model: nn.Module) -> list[nn.Linear]:
    """Linear layers applied to a single token: pooler and classification head."""
    heads: list[nn.Linear] = []
    pooler = getattr(_base(model), "pooler", None)
    if pooler is not None:
        heads.extend(m for m in pooler.modules() if isinstance(m, nn.Linear))
    classifier = getattr(model, "classifier", None)
    if classifier is not None:
        heads.extend(m for m in classifier.modules() if isinstance(m, nn.Linear))
    return heads


def _out_in(linear: nn.Module) -> tuple[int, int]:
    """(out, in) from the weight's shape: also right for masked stand-ins of nn.Linear (movement
    pruning's patched layers) that keep a weight but not the in/out_features attributes."""
    out_features, in_features = linear.weight.shape
    return int(out_features), int(in_features)


def head_size(model: nn.Module) -> int:
    config = model.config
    return config.hidden_size // config.num_attention_heads


def count_flops(model: nn.Module, seq_len: int = DEFAULT_SEQ_LEN, density: Density = nonzero_density) -> FlopReport:
    """Apply the FLOP rule to `model`. `density` lets a method report masks it keeps apart."""
    n = seq_len
    base = _base(model)
    d_head = head_size(model)
    dense = effective = attention = 0.0
    enc_weights = 0
    enc_nonzero = 0.0
    enc_flops = 0.0
    for layer in base.encoder.layer:
        kept_heads = _out_in(layer.attention.self.query)[0] // d_head
        attn = 2 * n * n * d_head * kept_heads
        attention += 2 * attn
        dense += 2 * attn
        effective += 2 * attn
    for _, linear in encoder_linears(model):
        out_features, in_features = _out_in(linear)
        macs = n * in_features * out_features
        frac = density(linear)
        dense += 2 * macs
        effective += 2 * macs * frac
        enc_flops += 2 * macs
        enc_weights += linear.weight.numel()
        enc_nonzero += linear.weight.numel() * frac
    for linear in _head_linears(model):
        out_features, in_features = _out_in(linear)
        macs = in_features * out_features
        dense += 2 * macs
        effective += 2 * macs * density(linear)
    params = list(model.parameters())
    return FlopReport(
        seq_len=n,
        dense=dense,
        effective=effective,
        attention=attention,
        encoder_linear_flops=enc_flops,
        encoder_linear_weights=enc_weights,
        encoder_linear_nonzero=enc_nonzero,
        params_total=sum(p.numel() for p in params),
        params_nonzero=int(sum(p.numel() if p.is_meta else int(torch.count_nonzero(p)) for p in params)),
    )


def budget_fraction(report: FlopReport, reference: FlopReport) -> float:
    """Effective FLOPs over the dense FLOPs of the unpruned model: what a budget bounds."""
    return report.effective / reference.dense


def linear_compression(report: FlopReport, reference: FlopReport) -> float:
    """Unpruned encoder-linear weights over kept nonzero ones (what papers call '20x')."""
    return reference.encoder_linear_weights / max(report.encoder_linear_nonzero, 1.0)


def forward_flops_at(report: FlopReport, seq_len: int) -> float:
    """Dense FLOPs of one example at `seq_len`, from a report made at any length: the encoder linear
    layers grow with the length, the attention products with its square, pooler and classifier not."""
    scale = seq_len / report.seq_len
    fixed = report.dense - report.encoder_linear_flops - report.attention
    return report.encoder_linear_flops * scale + report.attention * scale**2 + fixed


# A backward pass costs about twice the forward (gradients for activations and for weights).
FORWARD_BACKWARD = 3.0


def training_flops(
    student: FlopReport,
    student_batches: dict[tuple[int, int], int],
    teacher: FlopReport | None = None,
    teacher_batches: dict[tuple[int, int], int] | None = None,
) -> float:
    """Estimated training compute: forward + backward of the student on every training batch, plus
    the teacher's forward passes. Batches are (batch size, padded length) -> count, the real shapes
    the loop ran; structure removed before training counts as removed, masks do not (the dense
    kernels still multiply the zeros)."""
    total = sum(
        FORWARD_BACKWARD * n * size * forward_flops_at(student, length) for (size, length), n in student_batches.items()
    )
    if teacher is not None and teacher_batches:
        total += sum(n * size * forward_flops_at(teacher, length) for (size, length), n in teacher_batches.items())
    return total
