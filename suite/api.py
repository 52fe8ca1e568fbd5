"""The method interface: every pruning method is a PruningMethod with a frozen Config.

The harness owns the model, the data and the training loop; a method only sees the hooks below,
so every method gets the same optimizer, schedule, step count and data (the fairness contract).
Where each hook fires in one cell of the grid (suite.run.fit, suite.compute.train):

    reason = method.unreachable(model, reference, budget)      # planning: a reason skips the cell
    model = copy of the teacher if method.start == "teacher" else the pre-trained checkpoint
    ctx = RunContext(task, budget, seed, total_steps, reference, teacher, calibration_batches, ...)
    model = method.prepare(model, ctx)
    optimizer = AdamW(method.param_groups(model, lr, weight_decay)); lr schedule with warmup
    extra = method.forward_kwargs()
    for step in 1 .. ctx.total_steps:                          # reshuffled epochs of the train split
        outputs = model(**batch, **extra)
        loss = method.training_loss(model, batch, outputs, ctx)
        loss.backward()                                        # unscaled gradients under fp16
        method.on_gradients(model, step, ctx)
        clip gradients; optimizer step; lr schedule step; zero gradients
        method.on_step_end(model, step, ctx)
        if a training-curve row is due (every curve_every steps and at the last):
            row(step, loss, lr, method.flop_fraction(model, ctx), method.loss_parts())
    model = method.finalize(model, ctx)
    evaluate(model); status "ok" if budget.allows(effective FLOPs / reference.dense) else "over_budget"
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from suite.sparsity import sparsity_cannot_reach

# What a Config's knobs admit (declared with each field, checked in __post_init__): importable from here.
from suite.spec.ranges import COUNT, FRACTION, POSITIVE, WEIGHT, OneOf, Range, check_ranges, knob  # noqa: F401
from suite.spec.rules import BUDGET_TOLERANCE, STARTS, within_budget

# PruningSchedule and TaskSpec are part of the interface (RunContext fields): importable from here.
from suite.spec.schedules import PruningSchedule
from suite.spec.tasks import TaskSpec

if TYPE_CHECKING:
    from suite.flops import FlopReport


@dataclass(frozen=True)
class MethodInfo:
    """Facts about a method that the harness and the leaderboard need."""

    name: str
    summary: str
    paper: str = ""
    # Loads the dense fine-tuned teacher into ctx.teacher before prepare().
    needs_teacher: bool = False
    # False: the method does not compress, so it runs once at budget 1.0 as a reference row.
    budgeted: bool = True
    # True: the method's trained model *is* the teacher (plain fine-tuning); the harness shares
    # one cached training between this method's cells and every method's teacher.
    is_teacher: bool = False
    # Where training starts (the training rule): "pretrained" (the pre-trained checkpoint, trained
    # 2S steps) or "teacher" (a copy of the fine-tuned teacher, S steps more). A method whose start
    # depends on its Config overrides PruningMethod.start.
    start: str = "pretrained"

    def __post_init__(self) -> None:
        if self.start not in STARTS:
            raise ValueError(f"MethodInfo.start must be one of {STARTS}, not {self.start!r}")


@dataclass(frozen=True)
class Budget:
    """Effective FLOPs of the pruned model as a fraction of the unpruned model's dense FLOPs."""

    fraction: float
    tolerance: float = BUDGET_TOLERANCE

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"budget {self.fraction} is outside (0, 1]")

    def allows(self, fraction: float) -> bool:
        return within_budget(fraction, self.fraction, self.tolerance)


@dataclass
class RunContext:
    """Everything a method may read while it runs one cell. Methods never read global state."""

    task: TaskSpec
    budget: Budget
    seed: int
    total_steps: int
    reference: FlopReport  # the unpruned model: the denominator of the budget
    flop_seq_len: int
    teacher: nn.Module | None = None
    calibration_batches: list[dict[str, torch.Tensor]] = field(default_factory=list)
    # The shape every gradual pruning method's sparsity follows (a preset field).
    schedule: PruningSchedule = field(default_factory=PruningSchedule)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("suite.method"))

    @property
    def target_flops(self) -> float:
        return self.budget.fraction * self.reference.dense

    def measure_flops(self, model: nn.Module) -> FlopReport:
        from suite.flops import count_flops

        return count_flops(model, seq_len=self.flop_seq_len)


@dataclass(frozen=True)
class NoConfig:
    """Config for methods without knobs."""


class PruningMethod(ABC):
    """Base class. Override prepare() and finalize(); the other hooks have sensible defaults."""

    Config: ClassVar[type] = NoConfig

    def __init__(self, info: MethodInfo, config: Any | None = None) -> None:
        self.info = info
        self.config = config if config is not None else self.Config()

    @property
    def start(self) -> str:
        """ "pretrained" or "teacher": the weights the harness hands to prepare(). With "teacher",
        `model` is a trainable copy of the fine-tuned teacher and the cell trains S steps; with
        "pretrained" it is the pre-trained checkpoint with a fresh head and the cell trains 2S."""
        return self.info.start

    def unreachable(self, model: nn.Module, reference: FlopReport, budget: Budget) -> str | None:
        """Why this method cannot meet `budget` on `model` by design (e.g. fewer than one whole layer
        for layer dropping), or None. The harness runs no such cell, writes no record and lists the
        reason; a reachable budget that the method then misses is `over_budget` or `failed`."""
        return None

    @abstractmethod
    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        """Add masks or scores, build a student, or prune one-shot. Returns the model to train."""

    def forward_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for the student's forward pass (e.g. output_hidden_states)."""
        return {}

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        """Optimizer groups; the default excludes biases and LayerNorm from weight decay."""
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            is_norm_or_bias = name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
            (no_decay if is_norm_or_bias else decay).append(param)
        return [
            {"params": decay, "lr": lr, "weight_decay": weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        ]

    def training_loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], outputs: Any, ctx: RunContext
    ) -> torch.Tensor:
        """The loss to minimise; the default is the task loss the model computed from labels."""
        return outputs.loss

    def loss_parts(self) -> dict[str, float]:
        """The named terms of the last `training_loss` (for the training curve); empty when the loss is
        one term. The default is empty; suite.distill.DistillsFromTeacher reports its Distiller's terms,
        so a method that distils through it reports them without code of its own."""
        return {}

    def flop_fraction(self, model: nn.Module, ctx: RunContext) -> float:
        """Effective FLOPs of `model` as it trains over the unpruned model's dense FLOPs (the training
        curve's column). The default counts nonzero weights; a method whose masks live outside the
        weights until finalize() overrides it."""
        return ctx.measure_flops(model).effective / ctx.reference.dense

    def on_gradients(self, model: nn.Module, step: int, ctx: RunContext) -> None:  # noqa: B027 (optional hook)
        """Called after every backward pass, before clipping and the optimizer step (step counts from 1,
        like on_step_end): `param.grad` holds the true gradients of the training loss (unscaled under
        fp16). Gradient-based saliency (sensitivity, Fisher information) is read here."""

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:  # noqa: B027 (optional hook)
        """Called after every optimizer step (step counts from 1): schedules, mask refresh."""

    @abstractmethod
    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        """Bake masks and remove structure; return a plain Hugging Face model."""


class WeightSparsityMethod(PruningMethod):
    """Base of the unstructured methods: they meet a budget by zeroing encoder weights only, so a
    budget below the attention products, pooler and classifier is out of their reach (not run)."""

    def unreachable(self, model: nn.Module, reference: FlopReport, budget: Budget) -> str | None:
        return sparsity_cannot_reach(reference, budget.fraction)
