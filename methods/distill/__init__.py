"""`distill`: a small dense student sized to the budget, initialised from the teacher's layers and
trained with the same distillation losses as `ksp` (the paper's small-dense counterpart)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from suite.api import Budget, MethodInfo, OneOf, PruningMethod, RunContext, check_ranges, knob
from suite.distill import KD_SEARCH, DistillsFromTeacher, KDWeights, uniform_layer_map
from suite.errors import SuiteError
from suite.flops import FlopReport
from suite.registry import register_method
from suite.sizing import DenseShape, student_shape
from suite.structure import drop_layers, narrow_ffn


@dataclass(frozen=True)
class SmallDenseConfig:
    kd: KDWeights = field(default_factory=KDWeights)
    # "mapped": each student layer starts as the teacher layer it is distilled towards; "first":
    # DistilBERT's evenly spaced layers from the first (the rule before; kept for comparison).
    init: str = knob("mapped", OneOf("mapped", "first"))

    def __post_init__(self) -> None:
        check_ranges(self)


def student_layers(student: int, teacher: int, init: str = "mapped") -> list[int]:
    """The teacher layers (0-based) a student of `student` layers keeps: those it is mapped to, or
    with `init="first"` evenly spaced ones from the first."""
    if init == "first":
        return [round(i * teacher / student) for i in range(student)]
    return [t - 1 for t in uniform_layer_map(student, teacher)]


@register_method(
    MethodInfo(
        name="distill",
        summary="small dense student sized to the budget, initialised from teacher layers, ksp's KD losses",
        paper="Sanh et al. 2019 (DistilBERT: student from teacher layers); Jiao et al. 2020 (TinyBERT losses)",
        needs_teacher=True,
        start="teacher",
    ),
    search=KD_SEARCH,
)
class SmallDenseStudent(DistillsFromTeacher, PruningMethod):
    Config = SmallDenseConfig

    @staticmethod
    def shape(model: nn.Module, reference: FlopReport, budget: Budget) -> DenseShape:
        config = model.config
        total = len(model.base_model.encoder.layer)
        return student_shape(reference, budget, total, config.hidden_size, config.intermediate_size)

    def unreachable(self, model: nn.Module, reference: FlopReport, budget: Budget) -> str | None:
        try:
            self.shape(model, reference, budget)
        except SuiteError as exc:
            return str(exc)
        return None

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if ctx.teacher is None:
            raise ValueError("distill needs the teacher in ctx.teacher")
        student = model.requires_grad_(True).train()  # the harness's copy of the teacher (start="teacher")
        total = len(student.base_model.encoder.layer)
        shape = self.shape(student, ctx.reference, ctx.budget)
        # Each student layer starts as the teacher layer it is distilled towards (TinyBERT's uniform
        # map: student layer m learns teacher layer m x L_t / L_s), so no layer has to move from one
        # teacher layer's function to another's.
        drop_layers(student, student_layers(shape.layers, total, self.config.init))
        narrow_ffn(student, shape.ffn)
        ctx.logger.info("student: %d layers, FFN %d", shape.layers, shape.ffn)
        self.start_distilling(student, ctx, self.config.kd)
        return student

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.stop_distilling()
        return model
