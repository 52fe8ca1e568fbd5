"""`layers`: drop encoder layers to meet the budget (narrowing the kept FFNs to fill what whole layers
leave unused), then fine-tune with distillation.

Sajjad et al. (2020, "Poor Man's BERT"): dropping the top layers of the pre-trained model before
fine-tuning is a strong simple baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from suite.api import Budget, MethodInfo, OneOf, PruningMethod, RunContext, check_ranges, knob
from suite.distill import KD_TEMPERATURE, DistillsFromTeacher, KDWeights
from suite.errors import SuiteError
from suite.flops import FlopReport
from suite.registry import register_method
from suite.sizing import deepest_full_width, student_shape
from suite.spec.search import Choice, SearchSpace
from suite.structure import drop_layers, narrow_ffn


@dataclass(frozen=True)
class LayerDropConfig:
    # "top": keep the bottom layers; "alternate": keep evenly spaced layers
    strategy: str = knob("top", OneOf("top", "alternate"))
    distill: bool = True
    kd: KDWeights = field(default_factory=KDWeights)

    def __post_init__(self) -> None:
        check_ranges(self)


def kept_layers(strategy: str, total: int, keep: int) -> list[int]:
    if strategy == "top":
        return list(range(keep))
    if strategy == "alternate":
        return [round(i * total / keep) for i in range(keep)]
    raise ValueError(f"unknown layer-drop strategy {strategy!r}; use 'top' or 'alternate'")


@register_method(
    MethodInfo(
        name="layers",
        summary="drop the top encoder layers of the pre-trained model (FFN narrowed to fill the budget), then distil",
        paper="Sajjad, Dalvi, Durrani, Nakov. On the Effect of Dropping Layers of Pre-trained Transformer "
        "Models (Poor Man's BERT), 2020",
        needs_teacher=True,
    ),
    search=SearchSpace({"strategy": Choice(("top", "alternate")), "kd.temperature": KD_TEMPERATURE}),
)
class LayerDrop(DistillsFromTeacher, PruningMethod):
    Config = LayerDropConfig

    def unreachable(self, model: nn.Module, reference: FlopReport, budget: Budget) -> str | None:
        config = model.config
        total = len(model.base_model.encoder.layer)
        if deepest_full_width(reference, budget, total, config.hidden_size, config.intermediate_size):
            return None
        return (
            f"budget {budget.fraction:g} is below one whole encoder layer of {total}; layer dropping cannot "
            "reach it (distill narrows the FFN of a one-layer student instead)"
        )

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if reason := self.unreachable(model, ctx.reference, ctx.budget):
            raise SuiteError(reason)  # the harness never gets here: it skips unreachable cells
        config = model.config
        total = len(model.base_model.encoder.layer)
        # The same sizing as distill: whole layers, or one more layer with every kept FFN narrowed
        # where whole layers would leave part of the budget unused.
        shape = student_shape(ctx.reference, ctx.budget, total, config.hidden_size, config.intermediate_size)
        drop_layers(model, kept_layers(self.config.strategy, total, shape.layers))
        narrow_ffn(model, shape.ffn)
        ctx.logger.info("kept %d of %d layers (%s), FFN %d", shape.layers, total, self.config.strategy, shape.ffn)
        self.start_distilling(model, ctx, self.config.kd, enabled=self.config.distill)
        return model

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.stop_distilling()
        return model
