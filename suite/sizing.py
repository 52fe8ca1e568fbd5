"""Sizing structured students to a FLOP budget (dense FLOPs: structure removal has no masks)."""

from __future__ import annotations

from dataclasses import dataclass

from suite.api import Budget
from suite.errors import SuiteError
from suite.flops import FlopReport


@dataclass(frozen=True)
class DenseShape:
    layers: int
    ffn: int  # FFN width of every kept layer


def layer_flops(hidden: int, ffn: int, seq_len: int) -> float:
    """FLOPs of one full-width encoder layer by the FLOP rule (all heads kept)."""
    linear = seq_len * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 2 * seq_len * seq_len * hidden  # scores + context over all heads
    return 2.0 * (linear + attention)


def fits(reference: FlopReport, budget: Budget, layers: int, hidden: int, ffn: int) -> bool:
    fixed = reference.dense - reference.encoder_linear_flops - reference.attention  # pooler + classifier
    dense = fixed + layers * layer_flops(hidden, ffn, reference.seq_len)
    return budget.allows(dense / reference.dense)


def deepest_full_width(reference: FlopReport, budget: Budget, max_layers: int, hidden: int, ffn: int) -> int:
    """Most full-width layers within budget (0 when even one layer is over)."""
    return max((n for n in range(max_layers + 1) if fits(reference, budget, n, hidden, ffn)), default=0)


def student_shape(reference: FlopReport, budget: Budget, max_layers: int, hidden: int, ffn: int) -> DenseShape:
    """Fewer full-width layers first; narrow the FFN of a single layer only if one layer is over budget."""
    layers = deepest_full_width(reference, budget, max_layers, hidden, ffn)
    if layers:
        return DenseShape(layers, ffn)
    width = max((f for f in range(ffn, 0, -1) if fits(reference, budget, 1, hidden, f)), default=0)
    if width == 0:
        raise SuiteError(f"budget {budget.fraction:g} is below one encoder layer without FFN; no dense student fits")
    return DenseShape(1, width)
