"""`random`: random unstructured masks at the budget's sparsity, then plain fine-tuning.

The floor every method must clear (Blalock et al. 2020 ask for it in every comparison).
"""

from __future__ import annotations

from torch import nn

from suite.api import MethodInfo, RunContext, WeightSparsityMethod
from suite.registry import register_method
from suite.sparsity import EncoderMasks, kept_fraction_for_budget


@register_method(
    MethodInfo(
        name="random",
        summary="one-shot random unstructured masks at the budget's sparsity, then fine-tuning (task loss)",
        paper="baseline (Blalock et al., What is the State of Neural Network Pruning?, MLSys 2020)",
    )
)
class RandomPruning(WeightSparsityMethod):
    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.masks = EncoderMasks(model)
        self.masks.prune_randomly(1.0 - kept_fraction_for_budget(ctx.reference, ctx.budget.fraction), ctx.seed)
        return model

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        self.masks.apply()

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.masks.apply()
        return model
