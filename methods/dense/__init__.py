"""`dense`: plain fine-tuning with the task loss for 2S steps: the uncompressed reference row.

It has the lineage of every compressed row (2S task steps from the pre-trained checkpoint). The
distillation teacher is the same recipe stopped at S steps; it has its own row (`teacher`).
"""

from __future__ import annotations

from torch import nn

from suite.api import MethodInfo, PruningMethod, RunContext
from suite.registry import register_method


@register_method(
    MethodInfo(
        name="dense",
        summary="plain fine-tuning for 2S steps, no compression: the reference row (equal lineage)",
        paper="Devlin et al. 2019 (BERT fine-tuning)",
        budgeted=False,
    )
)
class DenseFinetune(PruningMethod):
    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        return model

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        return model
