"""`platon`: PLATON (Zhang et al., ICML 2022): pruning by an upper confidence bound of weight importance.

The importance of a weight is its sensitivity |w · ∂L/∂w|, averaged over a window of steps and
smoothed by an exponential moving average (β1); its uncertainty is the moving average (β2) of how
far each window's value lies from that smoothed importance. The score is their product, and the
lowest-scoring weights of all encoder matrices together are pruned on the shared cubic schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from suite.api import COUNT, FRACTION, MethodInfo, OneOf, RunContext, WeightSparsityMethod, check_ranges, knob
from suite.registry import register_method
from suite.sparsity import EncoderMasks, kept_fraction_for_budget
from suite.spec.search import SearchSpace, Uniform


@dataclass(frozen=True)
class PlatonConfig:
    beta1: float = knob(0.85, FRACTION)  # smoothing of the importance (the paper's GLUE setting)
    beta2: float = knob(0.95, FRACTION)  # smoothing of the uncertainty
    window: int = knob(10, COUNT)  # steps averaged into one importance observation; masks are updated as often
    # "global": one ranking over all encoder matrices, as the paper; or "matrix"
    scope: str = knob("global", OneOf("global", "matrix"))

    def __post_init__(self) -> None:
        check_ranges(self)


class PlatonScores:
    """The importance and uncertainty moving averages of a set of weight tensors.

    `observe` adds one step's sensitivity |w · g| to the current window; `fold` turns the window's
    mean I into the averages: Ī ← β1 Ī + (1 − β1) I, then Ū ← β2 Ū + (1 − β2) |I − Ī|. The score
    is Ī · Ū: high where a weight matters and that estimate is still uncertain.
    """

    def __init__(self, beta1: float, beta2: float) -> None:
        self.beta1, self.beta2 = beta1, beta2
        self.window_sum: dict[str, torch.Tensor] = {}
        self.window_steps = 0
        self.importance: dict[str, torch.Tensor] = {}
        self.uncertainty: dict[str, torch.Tensor] = {}
        self.folds = 0

    @torch.no_grad()
    def observe(self, sensitivities: dict[str, torch.Tensor]) -> None:
        for name, value in sensitivities.items():
            value = value.detach().float()
            if name in self.window_sum:
                self.window_sum[name].add_(value)
            else:
                self.window_sum[name] = value.clone()
        self.window_steps += 1

    @torch.no_grad()
    def fold(self) -> None:
        if not self.window_steps:
            return
        for name, total in self.window_sum.items():
            mean = total / self.window_steps
            if name not in self.importance:
                self.importance[name] = torch.zeros_like(mean)
                self.uncertainty[name] = torch.zeros_like(mean)
            importance = self.importance[name].mul_(self.beta1).add_(mean, alpha=1.0 - self.beta1)
            self.uncertainty[name].mul_(self.beta2).add_((mean - importance).abs(), alpha=1.0 - self.beta2)
        self.window_sum.clear()
        self.window_steps = 0
        self.folds += 1

    def scores(self) -> dict[str, torch.Tensor]:
        if not self.folds:  # no complete window yet: what has been seen is the only evidence
            self.fold()
        return {name: self.importance[name] * self.uncertainty[name] for name in self.importance}


@register_method(
    MethodInfo(
        name="platon",
        summary="PLATON: gradual unstructured pruning by importance x uncertainty (UCB) of |w·grad|",
        paper="Zhang, Zuo, Liang, Bukharin, He, Chen, Zhao. PLATON: Pruning Large Transformer Models with "
        "Upper Confidence Bound of Weight Importance. ICML 2022 (arXiv 2206.12562)",
    ),
    search=SearchSpace({"beta1": Uniform(0.5, 0.95), "beta2": Uniform(0.5, 0.99)}),
)
class Platon(WeightSparsityMethod):
    Config = PlatonConfig

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.final_sparsity = 1.0 - kept_fraction_for_budget(ctx.reference, ctx.budget.fraction)
        self.masks = EncoderMasks(model)
        self.scores = PlatonScores(self.config.beta1, self.config.beta2)
        self.ramp_start, self.ramp_end = ctx.schedule.ramp(ctx.total_steps)
        ctx.logger.info(
            "target sparsity %.4f (%s ranking), ramp over steps %d-%d, window %d",
            self.final_sparsity,
            self.config.scope,
            self.ramp_start,
            self.ramp_end,
            self.config.window,
        )
        return model

    def on_gradients(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        if step > self.ramp_end:  # the masks are final: no more scores needed
            return
        # Sensitivity |w · g|: the first-order estimate of the loss change if the weight were removed.
        self.scores.observe(
            {
                name: (linear.weight.detach() * linear.weight.grad).abs()
                for name, linear in self.masks.linears.items()
                if linear.weight.grad is not None
            }
        )
        if step % self.config.window == 0:
            self.scores.fold()

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        on_ramp = self.ramp_start < step <= self.ramp_end
        if on_ramp and ((step - self.ramp_start) % self.config.window == 0 or step == self.ramp_end):
            target = ctx.schedule.sparsity_at(step, ctx.total_steps, self.final_sparsity)
            self.masks.prune_by_scores(self.scores.scores(), target, self.config.scope)
        else:
            self.masks.apply()

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if self.masks.sparsity < self.final_sparsity:  # only if training never reached the ramp's end
            self.masks.prune_by_scores(self.scores.scores(), self.final_sparsity, self.config.scope)
        self.masks.apply()
        return model
