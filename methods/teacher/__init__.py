"""`teacher`: the dense fine-tuned teacher itself (plain fine-tuning for S steps), as its own row.

Every distilling method learns from this model and the methods that start from the teacher
continue its training, so readers see what the students were taught by. Its lineage is S task
steps, half of every other row's, so it is shown beside the table and never ranked.
"""

from __future__ import annotations

from torch import nn

from suite.api import MethodInfo, PruningMethod, RunContext
from suite.registry import register_method


@register_method(
    MethodInfo(
        name="teacher",
        summary="the distillation teacher: plain fine-tuning for S steps (its own row, not ranked)",
        paper="Devlin et al. 2019 (BERT fine-tuning)",
        budgeted=False,
        is_teacher=True,
    )
)
class Teacher(PruningMethod):
    """Plain fine-tuning; the harness trains it once per (task, seed) and caches it."""

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        return model

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        return model
