"""Unstructured masks on the six encoder linear matrices, shared by the sparse methods.

Masks live beside the model (not inside it), are applied by zeroing weights after every optimizer
step, and only ever shrink, so a pruned weight never regrows.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from suite.errors import SuiteError
from suite.flops import FlopReport, encoder_linears

# Their home is the torch-free schedules module; importable from here as before.
from suite.spec.schedules import PruningSchedule as PruningSchedule
from suite.spec.schedules import cubic_sparsity as cubic_sparsity


def kept_fraction_for_budget(reference: FlopReport, budget: float) -> float:
    """Fraction of encoder-linear weights to keep so effective FLOPs <= budget x dense.

    Weight sparsity only reduces the encoder linear layers; attention products and the
    (unpruned) pooler and classifier stay, so they are subtracted from the budget first.
    """
    fixed = reference.dense - reference.encoder_linear_flops
    keep = (budget * reference.dense - fixed) / reference.encoder_linear_flops
    if keep <= 0:
        raise SuiteError(
            f"budget {budget:g} cannot be met by weight sparsity: attention products, pooler and "
            f"classifier alone are {fixed / reference.dense:.3f} of the dense FLOPs"
        )
    return min(1.0, keep)


def sparsity_cannot_reach(reference: FlopReport, budget: float) -> str | None:
    """Why weight sparsity alone cannot meet `budget` on this model, or None: the `unreachable()`
    answer of every unstructured method, so such cells are listed as not run rather than failed."""
    try:
        kept_fraction_for_budget(reference, budget)
    except SuiteError as exc:
        return str(exc)
    return None


def top_mask(scores: torch.Tensor, keep: int, current: torch.Tensor | None = None) -> torch.Tensor:
    """Keep the `keep` highest scores among the weights `current` still keeps."""
    scores = scores.detach().float()
    if current is not None:
        scores = scores.masked_fill(~current, -math.inf)  # pruned weights can never win back a slot
    mask = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    if keep > 0:
        mask[torch.topk(scores.flatten(), keep, sorted=False).indices] = True
    return mask.view_as(scores)


def magnitude_mask(weight: torch.Tensor, keep: int, current: torch.Tensor | None = None) -> torch.Tensor:
    """Keep the `keep` largest |w| among the weights `current` still keeps."""
    return top_mask(weight.abs(), keep, current)


def random_mask(weight: torch.Tensor, keep: int, generator: torch.Generator) -> torch.Tensor:
    mask = torch.zeros(weight.numel(), dtype=torch.bool)
    mask[torch.randperm(weight.numel(), generator=generator)[:keep]] = True
    # Drawn on the CPU generator, so a seed gives the same mask on every device.
    return mask.view_as(weight).to(weight.device)


class EncoderMasks:
    """One boolean mask per encoder linear matrix; every matrix is pruned to the same sparsity."""

    def __init__(self, model: nn.Module) -> None:
        self.linears: dict[str, nn.Linear] = dict(encoder_linears(model))
        self.masks: dict[str, torch.Tensor] = {}
        self.sparsity = 0.0

    @staticmethod
    def _keep(linear: nn.Linear, sparsity: float) -> int:
        return math.floor((1.0 - sparsity) * linear.weight.numel())

    def prune_by_magnitude(self, sparsity: float) -> None:
        for name, linear in self.linears.items():
            keep = self._keep(linear, sparsity)
            self.masks[name] = magnitude_mask(linear.weight, keep, self.masks.get(name))
        self.sparsity = sparsity
        self.apply()

    @torch.no_grad()
    def prune_by_scores(self, scores: dict[str, torch.Tensor], sparsity: float, scope: str = "matrix") -> None:
        """Keep the highest-scoring weights among those still kept, to `sparsity`: in every matrix
        (`scope="matrix"`, as magnitude pruning does) or over all encoder matrices together
        (`"global"`: the same number of weights in all, spread by score). Every encoder weight costs
        the same multiply-accumulates per token, so both meet the same FLOP budget."""
        if scope == "matrix":
            for name, linear in self.linears.items():
                self.masks[name] = top_mask(scores[name], self._keep(linear, sparsity), self.masks.get(name))
        elif scope == "global":
            names = list(self.linears)
            flat = []
            for name in names:
                score = scores[name].detach().float().flatten()
                current = self.masks.get(name)
                if current is not None:  # a pruned weight never wins back a slot
                    score = score.masked_fill(~current.flatten(), -math.inf)
                flat.append(score)
            everything = torch.cat(flat)
            keep = math.floor((1.0 - sparsity) * everything.numel())
            chosen = torch.zeros(everything.numel(), dtype=torch.bool, device=everything.device)
            if keep > 0:
                chosen[torch.topk(everything, keep, sorted=False).indices] = True
            for name, part in zip(names, torch.split(chosen, [f.numel() for f in flat]), strict=True):
                self.masks[name] = part.view_as(self.linears[name].weight)
        else:
            raise ValueError(f"scope must be 'matrix' or 'global', not {scope!r}")
        self.sparsity = sparsity
        self.apply()

    def prune_randomly(self, sparsity: float, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        for name, linear in self.linears.items():
            self.masks[name] = random_mask(linear.weight, self._keep(linear, sparsity), generator)
        self.sparsity = sparsity
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        """Zero every pruned weight (call after each optimizer step)."""
        for name, mask in self.masks.items():
            self.linears[name].weight.mul_(mask)
