"""Sizing structured students to a FLOP budget (dense FLOPs: structure removal has no masks).

A student is a number of encoder layers (every head kept) and one FFN width shared by them. Whole
layers are coarse (MiniLM-L6: a sixth of the model each), so a student made of whole layers alone
can leave most of a layer's worth of budget unused; narrowing the FFN of one more layer fills it.
Whole-layer counts may use the budget's tolerance (the contract's "within budget"); the FFN width
is fine-grained and always sized to the budget itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suite.api import Budget
from suite.errors import SuiteError
from suite.flops import FlopReport


@dataclass(frozen=True)
class DenseShape:
    layers: int
    ffn: int  # FFN width of every kept layer


def layer_flops(hidden: int, ffn: int, seq_len: int) -> float:
    """FLOPs of one encoder layer with every head and `ffn` intermediate neurons, by the FLOP rule."""
    linear = seq_len * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 2 * seq_len * seq_len * hidden  # scores + context over all heads
    return 2.0 * (linear + attention)


def _fixed(reference: FlopReport) -> float:
    """Pooler and classifier: what every student keeps whatever its encoder."""
    return reference.dense - reference.encoder_linear_flops - reference.attention


def shape_fraction(reference: FlopReport, layers: int, hidden: int, ffn: int) -> float:
    """Dense FLOPs of a student of `layers` layers of FFN width `ffn`, over the reference's."""
    return (_fixed(reference) + layers * layer_flops(hidden, ffn, reference.seq_len)) / reference.dense


def fits(reference: FlopReport, budget: Budget, layers: int, hidden: int, ffn: int) -> bool:
    return budget.allows(shape_fraction(reference, layers, hidden, ffn))


def deepest_full_width(reference: FlopReport, budget: Budget, max_layers: int, hidden: int, ffn: int) -> int:
    """Most full-width layers within budget (0 when even one layer is over)."""
    return max((n for n in range(max_layers + 1) if fits(reference, budget, n, hidden, ffn)), default=0)


def widest_ffn(reference: FlopReport, budget: Budget, layers: int, hidden: int, ffn: int) -> int:
    """The widest FFN (at most `ffn`) that `layers` layers can share within the budget itself
    (no tolerance); 0 when the layers without any FFN are already over."""
    n = reference.seq_len
    per_neuron = layer_flops(hidden, 1, n) - layer_flops(hidden, 0, n)
    spare = budget.fraction * reference.dense - _fixed(reference) - layers * layer_flops(hidden, 0, n)
    width = min(ffn, math.floor(spare / (layers * per_neuron)))
    while width > 0 and shape_fraction(reference, layers, hidden, width) > budget.fraction:  # float rounding
        width -= 1
    return max(width, 0)


def student_shape(reference: FlopReport, budget: Budget, max_layers: int, hidden: int, ffn: int) -> DenseShape:
    """The most full-width layers that fit, if they use the budget to within its tolerance (MiniLM-L6
    at 0.5: three layers); otherwise one layer more, all with the FFN narrowed to fit (at 0.25: two
    layers of FFN 927, 0.2499, rather than one whole layer, 0.167; at 0.1: one layer of FFN 561)."""
    full = deepest_full_width(reference, budget, max_layers, hidden, ffn)
    used = shape_fraction(reference, full, hidden, ffn)
    if full < max_layers and used < budget.fraction * (1.0 - budget.tolerance):
        width = widest_ffn(reference, budget, full + 1, hidden, ffn)
        if width > 0:
            return DenseShape(full + 1, width)
    if full == 0:
        raise SuiteError(f"budget {budget.fraction:g} is below one encoder layer without FFN; no dense student fits")
    return DenseShape(full, ffn)
