"""`dense`: plain fine-tuning with the task loss. The reference row, and the teacher."""

from __future__ import annotations

from torch import nn

from suite.api import MethodInfo, PruningMethod, RunContext
from suite.registry import register_method


@register_method(
    MethodInfo(
        name="dense",
        summary="plain fine-tuning, no compression; also the distillation teacher",
        paper="Devlin et al. 2019 (BERT fine-tuning)",
        budgeted=False,
        is_teacher=True,
    )
)
class DenseFinetune(PruningMethod):
    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        return model

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        return model
