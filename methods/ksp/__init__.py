"""`ksp`: knowledge-aware sparse pruning (SparseBERT; Xu et al., NAACL 2021).

Gradual magnitude pruning of the six encoder matrices during task fine-tuning of the pre-trained
model, distilled from the dense fine-tuned teacher with the three-term loss of suite.distill.
`magnitude` (methods/magnitude) is the same class without the teacher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from suite.api import COUNT, FRACTION, MethodInfo, RunContext, WeightSparsityMethod, check_ranges, knob
from suite.distill import KD_SEARCH, DistillsFromTeacher, KDWeights
from suite.registry import register_method
from suite.sparsity import EncoderMasks, kept_fraction_for_budget


@dataclass(frozen=True)
class GradualMagnitudeConfig:
    distill: bool = True
    kd: KDWeights = field(default_factory=KDWeights)
    mask_updates: int = knob(100, COUNT)  # the paper updates masks about 100 times over its pruning ramp
    initial_sparsity: float = knob(0.0, FRACTION)

    def __post_init__(self) -> None:
        check_ranges(self)


@register_method(
    MethodInfo(
        name="ksp",
        summary="SparseBERT: gradual magnitude pruning during task distillation from the dense teacher",
        paper="Xu, Yen, Zhao, Xiao. Rethinking Network Pruning under the Pre-train and Fine-tune Paradigm. "
        "NAACL 2021 (arXiv 2104.08682)",
        needs_teacher=True,
    ),
    search=KD_SEARCH,
)
class GradualMagnitudePruning(DistillsFromTeacher, WeightSparsityMethod):
    Config = GradualMagnitudeConfig

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.final_sparsity = 1.0 - kept_fraction_for_budget(ctx.reference, ctx.budget.fraction)
        self.masks = EncoderMasks(model)
        if self.config.initial_sparsity > 0.0:  # the schedule's warm-up holds the initial sparsity
            self.masks.prune_by_magnitude(self.config.initial_sparsity)
        self.ramp_start, self.ramp_end = ctx.schedule.ramp(ctx.total_steps)
        self.update_every = max(1, (self.ramp_end - self.ramp_start) // self.config.mask_updates)
        self.start_distilling(model, ctx, self.config.kd, enabled=self.config.distill)
        ctx.logger.info(
            "target sparsity %.4f, ramp over steps %d-%d, mask update every %d steps",
            self.final_sparsity,
            self.ramp_start,
            self.ramp_end,
            self.update_every,
        )
        return model

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        on_ramp = self.ramp_start < step <= self.ramp_end
        if on_ramp and ((step - self.ramp_start) % self.update_every == 0 or step == self.ramp_end):
            target = ctx.schedule.sparsity_at(step, ctx.total_steps, self.final_sparsity, self.config.initial_sparsity)
            self.masks.prune_by_magnitude(target)
        else:
            self.masks.apply()

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if self.masks.sparsity < self.final_sparsity:  # only if on_step_end was never called at ramp end
            self.masks.prune_by_magnitude(self.final_sparsity)
        self.masks.apply()
        self.stop_distilling()
        return model
