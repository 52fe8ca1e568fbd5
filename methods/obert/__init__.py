"""`obert`: the Optimal BERT Surgeon (Kurtic et al., EMNLP 2022): gradual second-order pruning.

At each pruning step a weight's saliency is ρ = w² / (2 [F⁻¹]_ii), with F a block-diagonal empirical
Fisher of the gradients of the steps just before; the lowest-saliency weights of all encoder
matrices together are removed, and the remaining weights of each block are moved by the OBS
update so that they compensate. Distilled from the teacher's logits throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from methods.obert.fisher import BlockFisherInverse
from suite.api import COUNT, POSITIVE, MethodInfo, OneOf, RunContext, WeightSparsityMethod, check_ranges, knob
from suite.distill import DistillsFromTeacher, KDWeights
from suite.registry import register_method
from suite.sparsity import EncoderMasks, kept_fraction_for_budget
from suite.spec.search import Choice, LogUniform, SearchSpace


@dataclass(frozen=True)
class OBertConfig:
    block_size: int = knob(32, COUNT)  # paper: 50; 32 divides every BERT matrix; memory is block_size floats per weight
    # m: the Fisher of a pruning step is built from the gradients of the steps since the previous
    # one, at most this many (paper: 1024 gradients of batches of 8, sampled afresh at each step).
    gradients: int = knob(1024, COUNT)
    damp: float = knob(1e-7, POSITIVE)  # λ of F = λI + (1/m) Σ g gᵀ (paper: 1e-7)
    pruning_steps: int = knob(10, COUNT)  # pruning events, evenly spread over the shared ramp
    # "global": one ranking over all encoder matrices (the paper's recipes); or "matrix"
    scope: str = knob("global", OneOf("global", "matrix"))
    # Logit distillation only ("hardness" 1: no hard-label loss), as the paper's recipes.
    kd: KDWeights = field(default_factory=lambda: KDWeights(hidden=0.0, attention=0.0, logits=1.0, temperature=5.0))

    def __post_init__(self) -> None:
        check_ranges(self)


def pruning_events(ramp_start: int, ramp_end: int, count: int) -> list[int]:
    """`count` steps spread evenly over (ramp_start, ramp_end], the last one at ramp_end."""
    span = ramp_end - ramp_start
    return sorted({ramp_start + max(1, round(k * span / count)) for k in range(1, count + 1)})


@register_method(
    MethodInfo(
        name="obert",
        summary="Optimal BERT Surgeon: gradual pruning by block-Fisher OBS saliency with weight updates, logit KD",
        paper="Kurtic, Campos, Nguyen, Frantar, Kurtz, Fineran, Goin, Alistarh. The Optimal BERT Surgeon: "
        "Scalable and Accurate Second-Order Pruning for Large Language Models. EMNLP 2022 (arXiv 2203.07259)",
        needs_teacher=True,
    ),
    search=SearchSpace({"damp": LogUniform(1e-8, 1e-5), "block_size": Choice((8, 16, 32))}),
)
class OptimalBertSurgeon(DistillsFromTeacher, WeightSparsityMethod):
    Config = OBertConfig

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if ctx.teacher is None:
            raise ValueError("obert distils from the teacher: ctx.teacher is missing")
        self.final_sparsity = 1.0 - kept_fraction_for_budget(ctx.reference, ctx.budget.fraction)
        self.masks = EncoderMasks(model)
        ramp_start, ramp_end = ctx.schedule.ramp(ctx.total_steps)
        self.events = pruning_events(ramp_start, ramp_end, self.config.pruning_steps)
        self.fisher: dict[str, BlockFisherInverse] = {}
        self.start_distilling(model, ctx, self.config.kd)
        ctx.logger.info(
            "target sparsity %.4f (%s ranking), pruning at steps %s, Fisher blocks of %d from up to %d gradients",
            self.final_sparsity,
            self.config.scope,
            self.events,
            self.config.block_size,
            self.config.gradients,
        )
        return model

    def _window(self, step: int) -> tuple[int, int] | None:
        """(first step, pruning step) of the Fisher window `step` falls in, or None."""
        previous = 0
        for event in self.events:
            if step <= event:
                first = max(previous, event - self.config.gradients) + 1
                return (first, event) if step >= first else None
            previous = event
        return None

    def on_gradients(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        window = self._window(step)
        if window is None:
            return
        first, event = window
        for name, linear in self.masks.linears.items():
            if linear.weight.grad is None:
                continue
            if name not in self.fisher:
                self.fisher[name] = BlockFisherInverse(
                    linear.weight.numel(), self.config.block_size, self.config.damp, linear.weight.device
                )
            fisher = self.fisher[name]
            if step == first:
                fisher.reset(event - first + 1)
            gradient = linear.weight.grad.detach()
            mask = self.masks.masks.get(name)
            if mask is not None:  # removed weights stay out of the Fisher: their rows decouple as I/λ
                gradient = gradient * mask
            fisher.add_gradient(gradient)

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        if step in self.events:
            self._prune(ctx.schedule.sparsity_at(step, ctx.total_steps, self.final_sparsity))
            if step == self.events[-1]:
                self.fisher.clear()  # the masks are final: free the inverse Fishers
        else:
            self.masks.apply()

    @torch.no_grad()
    def _prune(self, sparsity: float) -> None:
        linears = self.masks.linears
        if not self.fisher:  # no gradient seen yet (a very short run): magnitude order, no update
            magnitudes = {name: linear.weight.abs() for name, linear in linears.items()}
            self.masks.prune_by_scores(magnitudes, sparsity, self.config.scope)
            return
        before = {name: linear.weight.detach().clone() for name, linear in linears.items()}
        kept_before = {name: self.masks.masks.get(name) for name in linears}
        saliency = {name: self.fisher[name].saliency(before[name]) for name in linears}
        self.masks.prune_by_scores(saliency, sparsity, self.config.scope)  # zeroes the removed weights
        for name, linear in linears.items():
            kept = self.masks.masks[name]
            removed = ~kept if kept_before[name] is None else kept_before[name] & ~kept
            if bool(removed.any()):
                updated = self.fisher[name].removal_update(before[name], removed)
                linear.weight.copy_(updated * kept)

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if self.masks.sparsity < self.final_sparsity:  # only if training never reached the last event
            self._prune(self.final_sparsity)
        self.masks.apply()
        self.fisher.clear()
        self.stop_distilling()
        return model
