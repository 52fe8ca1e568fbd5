"""`heads`: attention-head and FFN-neuron pruning with textpruner (Michel et al. 2019; Yang et al. 2022).

The dense fine-tuned teacher is copied, scored and pruned in prepare() (textpruner's iterative
TransformerPruner: importance = |Σ w · ∂L/∂w| of the task loss on the calibration batches,
recomputed after each round), physically shrunk, then fine-tuned for the run's steps with
distillation from the teacher (hidden states + logits; no attention term, the head counts differ).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from torch import nn

from suite.api import COUNT, MethodInfo, OneOf, PruningMethod, RunContext, check_ranges, knob
from suite.distill import KD_TEMPERATURE, DistillsFromTeacher, KDWeights
from suite.errors import SuiteError
from suite.flops import count_flops, head_size
from suite.registry import register_method
from suite.spec.search import Choice, SearchSpace
from suite.structure import structure_of

START_FROM = ("teacher", "model")


@dataclass(frozen=True)
class HeadPruningConfig:
    # "teacher": prune a copy of the dense fine-tuned teacher (gradient importance needs a trained
    # classifier), then train S steps; "model": prune the pre-trained model (fresh classifier), then
    # train 2S steps. Either way the harness hands over the starting weights (PruningMethod.start).
    start_from: str = knob("teacher", OneOf(*START_FROM))
    n_iters: int = knob(8, COUNT)  # textpruner rounds: score, mask 1/n_iters of what goes, re-score
    distill: bool = True
    # The attention-score term needs equal head counts, which head pruning breaks: off.
    kd: KDWeights = field(default_factory=lambda: KDWeights(attention=0.0))

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.kd.attention:
            raise ValueError("the attention-score KD term needs the teacher's head count; set kd.attention=0")


@dataclass(frozen=True)
class HeadPlan:
    """Kept heads and FFN width per layer (the same in every layer) and the FLOPs they give."""

    layers: int
    heads: int
    heads_total: int
    ffn: int
    ffn_total: int
    even_fraction: float  # k: the fraction of heads and neurons an exact even split would keep
    flops: float  # predicted dense FLOPs of the pruned model
    fraction: float  # flops / reference dense FLOPs

    def as_dict(self) -> dict:
        return asdict(self)


def plan_for_budget(model: nn.Module, reference_dense: float, budget: float, seq_len: int) -> HeadPlan:
    """Heads and FFN neurons to keep per layer so that dense FLOPs <= budget x reference.

    By the FLOP rule (suite.flops), per token position n, hidden D, head size d:
      one head    c_h = 2 (4 n D d + 2 n² d)  (its Q, K, V rows and output columns + scores + context)
      one neuron  c_f = 2 (2 n D)             (its FFN-in row and FFN-out column)
    Everything else (pooler, classifier) is `fixed`. Keep the same fraction k of heads and neurons:
      k = (b R - fixed) / (L (H c_h + F c_f)),  heads h = round(k H) clamped to [1, H],
    then the FFN width absorbs the rounding of h: f = floor((b R - fixed - L h c_h) / (L c_f)),
    clamped to F. If f < 1, h is lowered by one until f >= 1; at h = 1 the budget is refused.
    """
    layers = model.base_model.encoder.layer
    n_layers = len(layers)
    d = head_size(model)
    hidden = model.config.hidden_size
    head_counts = {layer.attention.self.query.out_features // d for layer in layers}
    widths = {layer.intermediate.dense.out_features for layer in layers}
    if len(head_counts) != 1 or len(widths) != 1:
        raise SuiteError(f"heads expects an unpruned model (heads per layer {head_counts}, FFN widths {widths})")
    n_heads, width = head_counts.pop(), widths.pop()
    n = seq_len
    c_head = 2 * (4 * n * hidden * d + 2 * n * n * d)
    c_neuron = 2 * (2 * n * hidden)
    dense = count_flops(model, seq_len).dense
    prunable = n_layers * (n_heads * c_head + width * c_neuron)
    fixed = dense - prunable
    target = budget * reference_dense
    k = (target - fixed) / prunable
    heads = min(n_heads, max(1, math.floor(k * n_heads + 0.5)))
    while True:
        ffn = min(width, math.floor((target - fixed - n_layers * heads * c_head) / (n_layers * c_neuron)))
        if ffn >= 1 or heads == 1:
            break
        heads -= 1
    if ffn < 1:
        floor = fixed + n_layers * (c_head + c_neuron)
        raise SuiteError(
            f"budget {budget:g} cannot be met by removing heads and FFN neurons: one head and one neuron "
            f"per layer plus the pooler and classifier are already {floor / reference_dense:.4f} of the dense "
            "FLOPs (heads keeps every layer; use a method that removes layers)"
        )
    flops = fixed + n_layers * (heads * c_head + ffn * c_neuron)
    return HeadPlan(n_layers, heads, n_heads, ffn, width, k, flops, flops / reference_dense)


@register_method(
    MethodInfo(
        name="heads",
        summary="attention-head and FFN-neuron pruning by gradient importance (textpruner), then distillation",
        paper="Michel, Levy, Neubig. Are Sixteen Heads Really Better than One? NeurIPS 2019 (arXiv 1905.10650); "
        "Yang, Cui, Chen, Wang. TextPruner: A Model Pruning Toolkit for Pre-Trained Language Models. "
        "ACL 2022 System Demonstrations (arXiv 2203.15996)",
        needs_teacher=True,
    ),
    search=SearchSpace({"start_from": Choice(START_FROM), "kd.temperature": KD_TEMPERATURE}),
)
class HeadPruning(DistillsFromTeacher, PruningMethod):
    Config = HeadPruningConfig

    @property
    def start(self) -> str:
        return "teacher" if self.config.start_from == "teacher" else "pretrained"

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        from suite.compat.textpruner import iterative_prune

        if ctx.teacher is None and self.config.distill:
            raise ValueError("heads with distill=True needs the dense fine-tuned teacher in ctx.teacher")
        # `model` is the teacher's copy or the pre-trained model, as `start` asked the harness.
        student = model.requires_grad_(True)  # importance needs gradients
        self.plan = plan_for_budget(student, ctx.reference.dense, ctx.budget.fraction, ctx.flop_seq_len)
        ctx.logger.info(
            "keeping %d of %d heads and %d of %d FFN neurons per layer (even split k=%.4f): %.4f of the dense FLOPs",
            self.plan.heads,
            self.plan.heads_total,
            self.plan.ffn,
            self.plan.ffn_total,
            self.plan.even_fraction,
            self.plan.fraction,
        )
        was_training = student.training
        result = iterative_prune(student, ctx.calibration_batches, self.plan.heads, self.plan.ffn, self.config.n_iters)
        student.train(was_training)
        student.zero_grad(set_to_none=True)
        self.head_mask = result.head_mask
        self.structure = structure_of(student)
        expected = (self.plan.layers * [self.plan.heads], self.plan.layers * [self.plan.ffn])
        if (self.structure["heads"], self.structure["ffn"]) != expected:
            raise SuiteError(f"textpruner left {self.structure}, the plan was {self.plan}")
        self._check_budget(student, ctx)
        self.start_distilling(student, ctx, self.config.kd, enabled=self.config.distill)
        return student

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        self.stop_distilling()
        self._check_budget(model, ctx)
        return model

    @staticmethod
    def _check_budget(model: nn.Module, ctx: RunContext) -> None:
        fraction = ctx.measure_flops(model).dense / ctx.reference.dense
        if not ctx.budget.allows(fraction):
            raise SuiteError(f"heads: dense FLOP fraction {fraction:.4f} is over the budget {ctx.budget.fraction:g}")
