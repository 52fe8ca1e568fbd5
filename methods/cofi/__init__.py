"""`cofi`: CoFi pruning (Xia, Zhong, Chen, ACL 2022): coarse- and fine-grained structured pruning.

Hard-concrete gates on whole attention blocks, heads, whole FFN blocks, FFN neurons and hidden
dimensions are learned together with the weights of a copy of the fine-tuned teacher; a Lagrangian
term drives the gates' expected FLOPs (by the suite's FLOP rule) to the shared pruning schedule's
target; the loss is CoFi's layer distillation with a dynamic layer map plus logit distillation.
When the schedule's ramp ends the gates are fixed (deterministic) and the weights train on with them;
`finalize` folds the gates into the weights and removes everything they closed, physically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from methods.cofi.gates import CoFiGates, Shapes
from methods.cofi.hard_concrete import LOG_ALPHA_BOUND
from methods.cofi.layer_distill import LayerDistillation
from methods.cofi.masking import GateHooks, fold_and_remove
from suite.api import COUNT, POSITIVE, WEIGHT, Budget, MethodInfo, PruningMethod, Range, RunContext, check_ranges, knob
from suite.distill import prediction_loss
from suite.errors import SuiteError
from suite.flops import FlopReport, head_size
from suite.registry import register_method
from suite.spec.search import LogUniform, SearchSpace


@dataclass(frozen=True)
class CoFiConfig:
    layer_distill: float = knob(0.9, WEIGHT)  # weight of the layer-distillation loss (the authors' 0.9)
    logit_distill: float = knob(0.1, WEIGHT)  # weight of the logit-distillation loss (the authors' 0.1)
    temperature: float = knob(2.0, POSITIVE)  # logit distillation (the authors' 2)
    distill_layers: int = knob(4, COUNT)  # teacher layers matched (the authors: 4 of 12); at most all
    # Learning rate of the gates' log α and of the Lagrange multipliers (the authors: 0.01, constant,
    # over tens of thousands of steps). With few steps the gates could not move far enough, so the
    # rate is raised to `mask_travel / ramp steps` where that is larger: enough for log α to cross
    # its whole range several times during the ramp.
    mask_lr: float = knob(0.01, WEIGHT)
    mask_travel: float = knob(20.0, WEIGHT)
    # Initial log α of FFN-neuron gates (the authors' drop rate 0.5); every log α is held within
    # ±LOG_ALPHA_BOUND after each step, so a start beyond it would only be cut back.
    intermediate_init: float = knob(0.0, Range(-LOG_ALPHA_BOUND, LOG_ALPHA_BOUND))

    def __post_init__(self) -> None:
        check_ranges(self)


def shapes_of(model: nn.Module, seq_len: int) -> Shapes:
    config = model.config
    layers = model.base_model.encoder.layer
    return Shapes(
        layers=len(layers),
        heads=config.num_attention_heads,
        head_size=head_size(model),
        hidden=config.hidden_size,
        ffn=config.intermediate_size,
        labels=model.classifier.out_features,
        seq_len=seq_len,
    )


@register_method(
    MethodInfo(
        name="cofi",
        summary="CoFi: L0 gates on layers, heads, FFN neurons and hidden dims to a FLOP target, layer distillation",
        paper="Xia, Zhong, Chen. Structured Pruning Learns Compact and Accurate Models. ACL 2022 (arXiv 2204.00408)",
        needs_teacher=True,
        start="teacher",
    ),
    search=SearchSpace({"mask_lr": LogUniform(1e-3, 1e-1), "mask_travel": LogUniform(5.0, 80.0)}),
)
class CoFiPruning(PruningMethod):
    Config = CoFiConfig

    def forward_kwargs(self) -> dict:
        return {"output_hidden_states": True}

    def unreachable(self, model: nn.Module, reference: FlopReport, budget: Budget) -> str | None:
        shapes = shapes_of(model, reference.seq_len)
        floor = 2 * (shapes.hidden + shapes.hidden * shapes.labels)  # one hidden dim, no encoder
        if budget.fraction * reference.dense < floor:
            return f"budget {budget.fraction:g} is below the pooler and classifier of a one-dimensional model"
        return None

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if ctx.teacher is None:
            raise ValueError("cofi distils from the teacher: ctx.teacher is missing")
        device = next(model.parameters()).device
        shapes = shapes_of(model, ctx.flop_seq_len)
        if len(model.base_model.encoder.layer) != model.config.num_hidden_layers or any(
            layer.attention.self.query.out_features != shapes.heads * shapes.head_size
            or layer.intermediate.dense.out_features != shapes.ffn
            for layer in model.base_model.encoder.layer
        ):
            raise SuiteError("cofi expects an unpruned model to start from")
        self.gates = CoFiGates(shapes, self.config.intermediate_init).to(device)
        self.lambdas = nn.Parameter(torch.zeros(2, device=device))
        self.layer_distill = LayerDistillation(
            shapes.hidden, len(ctx.teacher.base_model.encoder.layer), self.config.distill_layers
        ).to(device)
        self.hooks = GateHooks(model, self.gates)
        # A run too short for the schedule (fewer than 3 steps) fixes its gates at the end.
        short = ctx.total_steps < 3
        self.ramp_start, self.ramp_end = (0, ctx.total_steps) if short else ctx.schedule.ramp(ctx.total_steps)
        self.mask_lr = max(self.config.mask_lr, self.config.mask_travel / max(self.ramp_end - self.ramp_start, 1))
        self.target_fraction = ctx.budget.fraction
        self.step = 0
        self.fixed = False
        self.last_parts: dict[str, float] = {}
        self.gates.sample()
        self.sampler = model.register_forward_pre_hook(self._sample_gates)
        ctx.logger.info(
            "gates: %d hidden, %d heads, %d FFN neurons in %d layers; mask lr %.4g; ramp steps %d-%d; "
            "layer distillation from teacher layers %s",
            shapes.hidden,
            shapes.layers * shapes.heads,
            shapes.layers * shapes.ffn,
            shapes.layers,
            self.mask_lr,
            self.ramp_start,
            self.ramp_end,
            self.layer_distill.teacher_layers,
        )
        return model

    def _sample_gates(self, model: nn.Module, _args) -> None:
        if model.training and not self.fixed:
            self.gates.sample()

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        groups = super().param_groups(model, lr, weight_decay)
        groups.append({"params": list(self.layer_distill.parameters()), "lr": lr, "weight_decay": 0.0})
        # Gates and multipliers: no weight decay; the multipliers ascend (their gradients are
        # negated in on_gradients), which makes the FLOP constraint a min-max game.
        groups.append({"params": [*self.gates.parameters(), self.lambdas], "lr": self.mask_lr, "weight_decay": 0.0})
        return groups

    def target_at(self, step: int, ctx: RunContext) -> float:
        """Target FLOP fraction: the shared schedule's sparsity ramp applied to the FLOPs."""
        if ctx.total_steps < 3:
            return self.target_fraction
        return 1.0 - ctx.schedule.sparsity_at(step, ctx.total_steps, 1.0 - self.target_fraction)

    def training_loss(self, model: nn.Module, batch: dict, outputs, ctx: RunContext) -> torch.Tensor:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.no_grad():
            teacher = ctx.teacher(**inputs, output_hidden_states=True)
        open_layers = (self.gates.values["mha"] != 0).detach()
        layer = self.layer_distill(outputs.hidden_states, teacher.hidden_states, open_layers)
        t = self.config.temperature
        logits = prediction_loss(outputs.logits, teacher.logits, batch["labels"], ctx.task.is_regression, t)
        scale = 1.0 if ctx.task.is_regression else t * t  # soft targets at temperature t: gradients x t²
        parts = {"layer": self.config.layer_distill * layer, "logits": self.config.logit_distill * scale * logits}
        if not self.fixed:
            gap = self.gates.expected_flops() / ctx.reference.dense - self.target_at(self.step + 1, ctx)
            parts["lagrangian"] = self.lambdas[0] * gap + self.lambdas[1] * gap * gap
        self.last_parts = {name: float(value.detach()) for name, value in parts.items()}
        return sum(parts.values())

    def loss_parts(self) -> dict[str, float]:
        return dict(self.last_parts)

    def flop_fraction(self, model: nn.Module, ctx: RunContext) -> float:
        """The gates' expected FLOPs while they learn, the kept structure's once they are fixed."""
        flops = self.gates.kept_flops() if self.fixed else float(self.gates.expected_flops().detach())
        return flops / ctx.reference.dense

    def on_gradients(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        if self.lambdas.grad is not None:
            self.lambdas.grad.neg_()

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        self.step = step
        self.gates.clamp_()
        if not self.fixed and step >= self.ramp_end:
            self.fix_gates(ctx)

    def fix_gates(self, ctx: RunContext) -> None:
        """Make the gates deterministic and bring the structure within the budget."""
        expected = float(self.gates.expected_flops().detach()) / ctx.reference.dense
        self.gates.fix()
        rounded = self.gates.kept_flops() / ctx.reference.dense
        changed = self.gates.fit_to(math.floor(self.target_fraction * ctx.reference.dense))
        self.fixed = True
        self.gates.requires_grad_(False)
        kept = self.gates.kept()
        ctx.logger.info(
            "gates fixed at step %d: expected FLOP fraction %.4f, deterministic %.4f, %+d gates opened to "
            "reach %.4f; kept %d hidden dims, heads %s, FFN %s",
            self.step,
            expected,
            rounded,
            changed,
            self.gates.kept_flops() / ctx.reference.dense,
            kept.hidden,
            list(kept.heads),
            list(kept.ffn),
        )

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if not self.fixed:
            self.fix_gates(ctx)
        self.hooks.remove()
        self.sampler.remove()
        fold_and_remove(model, self.gates)
        fraction = ctx.measure_flops(model).dense / ctx.reference.dense
        if not ctx.budget.allows(fraction):
            raise SuiteError(f"cofi: dense FLOP fraction {fraction:.4f} is over the budget {ctx.budget.fraction:g}")
        return model
