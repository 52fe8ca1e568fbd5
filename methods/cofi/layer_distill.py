"""CoFi's layer distillation with a dynamic layer map.

A few teacher layers T (the authors: 4 of BERT-base's 12, every third ending with the last) each
learn from the student layer closest to them after a learned linear map W of the student's hidden
states: MSE(W h_s^j, h_t^i). The map is searched anew at every step, from the top teacher layer
down, each teacher layer taking the closest student layer below the one the layer above it took,
among the student layers whose attention block is still open. Student layers pruned away or
drifted apart are thus matched to whatever now does that layer's job.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def teacher_layers(teacher_depth: int, count: int) -> list[int]:
    """`count` teacher layers (0-based), evenly spaced, ending with the last: 12 -> 2, 5, 8, 11."""
    count = max(1, min(count, teacher_depth))
    return sorted({math.floor(k * teacher_depth / count + 0.5) - 1 for k in range(1, count + 1)})


def align(losses: torch.Tensor, open_layers: torch.Tensor) -> list[int]:
    """For a [teacher layers, student layers] loss table, the student layer each teacher layer learns
    from: from the top teacher layer down, the lowest-loss open student layer strictly below the one
    chosen above (the top may take any); where none is left, the one chosen above."""
    chosen: list[int] = []
    below = losses.shape[1]
    for row in reversed(range(losses.shape[0])):
        order = torch.argsort(losses[row]).tolist()
        allowed = [j for j in order if j < below and bool(open_layers[j])]
        pick = allowed[0] if allowed else min(below, losses.shape[1] - 1)
        chosen.append(pick)
        below = pick
    return list(reversed(chosen))


class LayerDistillation(nn.Module):
    """The learned map W (initialised as the identity: the student starts as the teacher's copy)
    and the loss Σ_i MSE(W h_s^{m(i)}, h_t^i)."""

    def __init__(self, hidden: int, teacher_depth: int, count: int) -> None:
        super().__init__()
        self.transform = nn.Linear(hidden, hidden)
        with torch.no_grad():
            self.transform.weight.copy_(torch.eye(hidden))
            self.transform.bias.zero_()
        self.teacher_layers = teacher_layers(teacher_depth, count)
        self.last_alignment: list[int] = []

    def forward(self, student_hidden, teacher_hidden, open_layers: torch.Tensor) -> torch.Tensor:
        """`*_hidden`: the models' hidden_states (embedding output first); `open_layers`: bool per
        student layer."""
        students = [self.transform(h.float()) for h in student_hidden[1:]]
        targets = [teacher_hidden[1:][i].float() for i in self.teacher_layers]
        losses = torch.stack([torch.stack([F.mse_loss(s, t) for s in students]) for t in targets])
        self.last_alignment = align(losses.detach(), open_layers)
        rows = torch.arange(len(targets))
        return losses[rows, torch.tensor(self.last_alignment)].sum()
