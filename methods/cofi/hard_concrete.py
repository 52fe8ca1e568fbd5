"""Hard-concrete gates (Louizos, Welling, Kingma 2018) for CoFi's structured masks.

A gate z in [0, 1] is a stretched, clipped binary-concrete sample with learnable location log α:
  s = sigmoid((log u - log(1 - u) + log α) / β),  u ~ U(0, 1);   z = clip(s (r - l) + l, 0, 1)
with temperature β = 2/3 and stretch (l, r) = (-0.1, 1.1), so z is exactly 0 or 1 with nonzero
probability. P(z > 0) = 1 - Q(0) has a closed form and a gradient in log α: it is what the expected
FLOPs are built from. At the end the gates are made deterministic: the expected number of closed
gates of a group is rounded, that many gates with the smallest log α close, and the others keep a
soft value sigmoid(0.8 log α / β) that is folded into the weights they scale.
"""

from __future__ import annotations

import math

import torch

TEMPERATURE = 2.0 / 3.0
STRETCH_LOW, STRETCH_HIGH = -0.1, 1.1
EPSILON = 1e-6
# log α is kept within log(1e-2)..log(1e2): a bounded location keeps every gate within reach of the
# Lagrangian in a bounded number of steps (P(z > 0) then ranges over about 0.05..0.998).
LOG_ALPHA_BOUND = math.log(100.0)
# The soft value of an open gate after training (the authors' 0.8, from Wang et al. 2020).
DETERMINISTIC_SCALE = 0.8


def sample(log_alpha: torch.Tensor) -> torch.Tensor:
    """One gate sample per entry of `log_alpha`, differentiable in log α."""
    u = torch.empty_like(log_alpha).uniform_(EPSILON, 1.0 - EPSILON)
    s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / TEMPERATURE)
    return (s * (STRETCH_HIGH - STRETCH_LOW) + STRETCH_LOW).clamp(0.0, 1.0)


def open_probability(log_alpha: torch.Tensor) -> torch.Tensor:
    """P(z > 0) = 1 - Q(0), Q the CDF of the stretched concrete distribution."""
    x = (0.0 - STRETCH_LOW) / (STRETCH_HIGH - STRETCH_LOW)
    closed = torch.sigmoid(math.log(x / (1.0 - x)) * TEMPERATURE - log_alpha).clamp(EPSILON, 1.0 - EPSILON)
    return 1.0 - closed


def deterministic(log_alpha: torch.Tensor) -> torch.Tensor:
    """The gates of one group (a vector) at the end of training: round(Σ Q(0)) of them closed (those
    with the smallest log α), the others at their soft value."""
    log_alpha = log_alpha.detach()
    closed = round(float((1.0 - open_probability(log_alpha)).sum()))
    soft = torch.sigmoid(log_alpha / TEMPERATURE * DETERMINISTIC_SCALE)
    if closed > 0:
        soft[torch.topk(log_alpha, k=min(closed, log_alpha.numel()), largest=False).indices] = 0.0
    return soft
