"""CoFi's five groups of hard-concrete gates and the FLOPs they are expected to leave.

Per layer i: `mha[i]` (the whole attention block), `head[i, h]`, `ffn[i]` (the whole FFN block),
`intermediate[i, k]` (FFN neurons); shared by every layer: `hidden[j]` (hidden dimensions, from the
embeddings to the pooler's input). By the suite's FLOP rule, with n tokens, head size d, E the
expected count of open gates (products of open probabilities, as the authors' parameter count):
  layer i  2 [ n · 4 d · E_heads,i · E_hidden  +  2 n² d · E_heads,i  +  n · 2 · E_hidden · E_ffn,i ]
  pooler   2 · E_hidden · D,   classifier 2 · D · labels
which equals the reference model's dense FLOPs when every gate is open.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from methods.cofi import hard_concrete

GROUPS = ("hidden", "mha", "head", "ffn", "intermediate")


@dataclass(frozen=True)
class Shapes:
    layers: int
    heads: int
    head_size: int
    hidden: int
    ffn: int
    labels: int
    seq_len: int


@dataclass(frozen=True)
class Kept:
    """Open gates of a deterministic mask: hidden dims, heads and FFN neurons per layer."""

    hidden: int
    heads: tuple[int, ...]
    ffn: tuple[int, ...]


def structure_flops(shapes: Shapes, hidden, heads, ffn) -> torch.Tensor | float:
    """Dense FLOPs of a model with these (expected or exact) counts; `heads`, `ffn` per layer."""
    n, d, width = shapes.seq_len, shapes.head_size, shapes.hidden
    layers = 2 * (n * 4 * d * heads * hidden + 2 * n * n * d * heads + n * 2 * hidden * ffn)
    head_linears = 2 * (hidden * width + width * shapes.labels)
    return layers.sum() + head_linears if torch.is_tensor(layers) else sum(layers) + head_linears


class CoFiGates(nn.Module):
    """The log α of every gate, and the gate values the masked model reads in its forward pass."""

    def __init__(self, shapes: Shapes, intermediate_init: float = 0.0) -> None:
        super().__init__()
        self.shapes = shapes
        high = hard_concrete.LOG_ALPHA_BOUND  # gates above neurons start (almost surely) open
        layers = shapes.layers
        self.hidden = nn.Parameter(torch.full((shapes.hidden,), high))
        self.mha = nn.Parameter(torch.full((layers,), high))
        self.head = nn.Parameter(torch.full((layers, shapes.heads), high))
        self.ffn = nn.Parameter(torch.full((layers,), high))
        self.intermediate = nn.Parameter(torch.full((layers, shapes.ffn), intermediate_init))
        self.values: dict[str, torch.Tensor] = {}

    def log_alphas(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in GROUPS}

    def sample(self) -> None:
        self.values = {name: hard_concrete.sample(log_alpha) for name, log_alpha in self.log_alphas().items()}

    @torch.no_grad()
    def clamp_(self) -> None:
        bound = hard_concrete.LOG_ALPHA_BOUND
        for log_alpha in self.log_alphas().values():
            log_alpha.clamp_(-bound, bound)

    def expected_flops(self) -> torch.Tensor:
        p = {name: hard_concrete.open_probability(log_alpha) for name, log_alpha in self.log_alphas().items()}
        heads = p["mha"] * p["head"].sum(-1)
        ffn = p["ffn"] * p["intermediate"].sum(-1)
        return structure_flops(self.shapes, p["hidden"].sum(), heads, ffn)

    @torch.no_grad()
    def fix(self) -> None:
        """Deterministic gates (per layer for heads and neurons, as the authors): fixed from now on."""
        values = {"hidden": hard_concrete.deterministic(self.hidden)}
        if not values["hidden"].any():  # a model needs one hidden dimension
            values["hidden"][self.hidden.argmax()] = 1.0
        for name in ("head", "intermediate"):
            values[name] = torch.stack([hard_concrete.deterministic(row) for row in getattr(self, name)])
        for name in ("mha", "ffn"):  # one gate per group
            values[name] = torch.cat([hard_concrete.deterministic(gate.view(1)) for gate in getattr(self, name)])
        self.values = values

    def kept(self) -> Kept:
        v = self.values
        heads = ((v["head"] != 0).sum(-1) * (v["mha"] != 0)).tolist()
        ffn = ((v["intermediate"] != 0).sum(-1) * (v["ffn"] != 0)).tolist()
        return Kept(int((v["hidden"] != 0).sum()), tuple(heads), tuple(ffn))

    def kept_flops(self) -> float:
        kept = self.kept()
        return float(structure_flops(self.shapes, kept.hidden, torch.tensor(kept.heads), torch.tensor(kept.ffn)))

    def _ranked(self, is_open: bool) -> list[tuple[float, str, tuple[int, ...]]]:
        """Open (or closed) hidden, head and neuron gates with their open probability, ascending;
        heads and neurons only in blocks whose gate is open (the others cost and change nothing)."""
        v = self.values
        live = {
            "hidden": torch.ones_like(v["hidden"], dtype=torch.bool),
            "head": (v["mha"] != 0)[:, None].expand_as(v["head"]),
            "intermediate": (v["ffn"] != 0)[:, None].expand_as(v["intermediate"]),
        }
        ranked = []
        for name in ("hidden", "head", "intermediate"):
            probability = hard_concrete.open_probability(getattr(self, name))
            for index in torch.nonzero(((v[name] != 0) == is_open) & live[name]).tolist():
                ranked.append((float(probability[tuple(index)]), name, tuple(index)))
        return sorted(ranked)

    @torch.no_grad()
    def fit_to(self, target: float) -> int:
        """Bring the fixed gates' FLOPs close to `target` from below: close open gates, least likely open
        first, while over; then reopen closed ones (at value 1), most likely open first, wherever one
        more still fits (closing a costly gate can free room for cheaper ones). Rounding the expected
        gates to deterministic ones, and a Lagrangian that has not settled in a short run, leave a
        model over or well under its target. Returns the number of gates opened minus the number
        closed. Whole blocks whose gate is closed stay closed; the last hidden dimension never closes."""
        changed = 0
        for _, name, index in self._ranked(is_open=True):
            if self.kept_flops() <= target:
                break
            if name == "hidden" and int((self.values["hidden"] != 0).sum()) == 1:
                continue
            self.values[name][index] = 0.0
            changed -= 1
        for _, name, index in reversed(self._ranked(is_open=False)):
            self.values[name][index] = 1.0
            if self.kept_flops() > target:
                self.values[name][index] = 0.0
                continue
            changed += 1
        return changed
