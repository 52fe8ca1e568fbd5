"""`distill`: a small dense student sized to the budget, initialised from the teacher's layers and
trained with the same distillation losses as `ksp` (the paper's small-dense counterpart)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from suite.api import MethodInfo, PruningMethod, RunContext
from suite.distill import Distiller, KDWeights, uniform_layer_map
from suite.registry import register_method
from suite.sizing import student_shape
from suite.structure import drop_layers, prune_ffn_neurons


@dataclass(frozen=True)
class SmallDenseConfig:
    kd: KDWeights = field(default_factory=KDWeights)
    # "mapped": each student layer starts as the teacher layer it is distilled towards; "first":
    # DistilBERT's evenly spaced layers from the first (the rule before; kept for comparison).
    init: str = "mapped"

    def __post_init__(self) -> None:
        if self.init not in ("mapped", "first"):
            raise ValueError(f"init must be 'mapped' or 'first', not {self.init!r}")


def student_layers(student: int, teacher: int, init: str = "mapped") -> list[int]:
    """The teacher layers (0-based) a student of `student` layers keeps: those it is mapped to, or
    with `init="first"` evenly spaced ones from the first."""
    if init == "first":
        return [round(i * teacher / student) for i in range(student)]
    return [t - 1 for t in uniform_layer_map(student, teacher)]


def neuron_importance(layer: nn.Module) -> torch.Tensor:
    """|FFN-in row| x |FFN-out column|: how much each intermediate neuron can move the output."""
    w_in = layer.intermediate.dense.weight.detach()  # [ffn, hidden]
    w_out = layer.output.dense.weight.detach()  # [hidden, ffn]
    return w_in.norm(dim=1) * w_out.norm(dim=0)


@register_method(
    MethodInfo(
        name="distill",
        summary="small dense student sized to the budget, initialised from teacher layers, ksp's KD losses",
        paper="Sanh et al. 2019 (DistilBERT: student from teacher layers); Jiao et al. 2020 (TinyBERT losses)",
        needs_teacher=True,
        start="teacher",
    )
)
class SmallDenseStudent(PruningMethod):
    Config = SmallDenseConfig

    def forward_kwargs(self) -> dict:
        return {"output_hidden_states": True}

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if ctx.teacher is None:
            raise ValueError("distill needs the teacher in ctx.teacher")
        student = model.requires_grad_(True).train()  # the harness's copy of the teacher (start="teacher")
        config = student.config
        total = len(student.base_model.encoder.layer)
        shape = student_shape(ctx.reference, ctx.budget, total, config.hidden_size, config.intermediate_size)
        # Each student layer starts as the teacher layer it is distilled towards (TinyBERT's uniform
        # map: student layer m learns teacher layer m x L_t / L_s), so no layer has to move from one
        # teacher layer's function to another's.
        drop_layers(student, student_layers(shape.layers, total, self.config.init))
        if shape.ffn < config.intermediate_size:
            drop = {}
            for index, layer in enumerate(student.base_model.encoder.layer):
                order = torch.argsort(neuron_importance(layer))
                drop[index] = order[: config.intermediate_size - shape.ffn].tolist()
            prune_ffn_neurons(student, drop)
        ctx.logger.info("student: %d layers, FFN %d", shape.layers, shape.ffn)
        self.distiller = Distiller(student, ctx.teacher, self.config.kd, ctx.task.is_regression)
        return student

    def training_loss(self, model: nn.Module, batch: dict, outputs, ctx: RunContext) -> torch.Tensor:
        return self.distiller.loss(batch, outputs)[0]

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.distiller.close()
        return model
