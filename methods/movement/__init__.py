"""`movement`: hard movement pruning (Sanh, Wolf, Rush, NeurIPS 2020) with nn_pruning's modules.

nn_pruning's ModelPatchingCoordinator replaces the six encoder linear layers of every layer with
its MaskedLinear (one learned score per weight, TopKBinarizer mask with a straight-through
gradient), gives the scores their own learning rate, schedules the kept fraction (its cubic
threshold schedule, driven from on_step_end) and bakes the final masks (compile_model). The suite's
loop trains it; the loss is the ksp three-term distillation loss, so movement and ksp differ in the
pruning criterion only. See README.md beside this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import torch
from torch import nn

from suite.api import POSITIVE, WEIGHT, MethodInfo, OneOf, RunContext, WeightSparsityMethod, check_ranges, knob
from suite.compat.nn_pruning import import_nn_pruning
from suite.distill import KD_TEMPERATURE, DistillsFromTeacher, KDWeights
from suite.errors import SuiteError
from suite.flops import encoder_linears
from suite.registry import register_method
from suite.sparsity import kept_fraction_for_budget
from suite.spec.search import LogUniform, SearchSpace

REGULARIZATIONS = ("disabled", "l1", "l0")


@dataclass(frozen=True)
class MovementConfig:
    distill: bool = True
    kd: KDWeights = field(default_factory=KDWeights)
    mask_scores_learning_rate: float = knob(1e-2, POSITIVE)  # the paper's (and nn_pruning's default)
    # nn_pruning's L1/L0 penalty on the mask scores. Hard (top-k) movement pruning uses none; the
    # penalty belongs to soft movement pruning, which selects by a threshold instead of the budget.
    regularization: str = knob("disabled", OneOf(*REGULARIZATIONS))
    regularization_lambda: float = knob(0.0, WEIGHT)

    def __post_init__(self) -> None:
        check_ranges(self)


@register_method(
    MethodInfo(
        name="movement",
        summary="Movement pruning: top-k on learned movement scores (nn_pruning) during task distillation",
        paper="Sanh, Wolf, Rush. Movement Pruning: Adaptive Sparsity by Fine-Tuning. NeurIPS 2020 (arXiv 2005.07683)",
        needs_teacher=True,
    ),
    search=SearchSpace({"mask_scores_learning_rate": LogUniform(1e-3, 1e-1), "kd.temperature": KD_TEMPERATURE}),
)
class MovementPruning(DistillsFromTeacher, WeightSparsityMethod):
    Config = MovementConfig

    def sparse_args(self, keep: float, ramp: tuple[int, int], total: int):
        """nn_pruning's SparseTrainingArguments for hard movement pruning of all six matrices.

        nn_pruning's threshold schedule holds the kept fraction at 1 up to step
        initial_warmup x warmup_steps, falls cubically to `keep` and holds it after step
        total - final_warmup x warmup_steps. With warmup_steps = 1 its two warm-ups are step counts,
        so the shape is exactly the suite's shared schedule `ramp` = (start, end); a cubic fall of the
        kept fraction is the same curve as the suite's cubic rise of sparsity."""
        cfg = self.config
        return self.nnp.SparseTrainingArguments(
            mask_scores_learning_rate=cfg.mask_scores_learning_rate,
            dense_pruning_method="topK",  # unstructured: block size 1 x 1 (the defaults)
            attention_pruning_method="topK",
            ampere_pruning_method="disabled",
            attention_output_with_dense=True,
            bias_mask=False,  # the paper masks weights only; nn_pruning's default (True) is for blocks
            initial_threshold=1.0,  # for topK the threshold is the kept fraction
            final_threshold=keep,
            initial_warmup=ramp[0],
            final_warmup=total - ramp[1],
            regularization=cfg.regularization,
            regularization_final_lambda=cfg.regularization_lambda,
        )

    def prepare(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        if getattr(model, "base_model_prefix", None) != "bert":
            # nn_pruning's BertLinearModelPatcher finds the layers by name: bert.encoder.layer.N....
            raise SuiteError(f"movement (nn_pruning) patches BERT models only, not {type(model).__name__}")
        self.nnp = import_nn_pruning()  # here, not at module import: `suite ls` never loads nn_pruning
        self.keep = kept_fraction_for_budget(ctx.reference, ctx.budget.fraction)
        self.warmup_steps = 1  # the warm-ups are step counts (see sparse_args)
        self.ramp = ctx.schedule.ramp(ctx.total_steps)
        self.args = self.sparse_args(self.keep, self.ramp, ctx.total_steps)
        # No teacher path: distillation is the suite's (below), not nn_pruning's logit-only KD.
        self.coordinator = self.nnp.ModelPatchingCoordinator(
            self.args, device=None, cache_dir=None, logit_names=["logits"], teacher_constructor=None
        )
        self.coordinator.patch_model(model)
        self.coordinator.schedule_threshold(0, ctx.total_steps, self.warmup_steps, training=True)
        # After patching: the score hooks sit on the MaskedLinear query/key that actually run.
        self.start_distilling(model, ctx, self.config.kd, enabled=self.config.distill)
        ctx.logger.info(
            "nn_pruning %s topK: kept fraction 1 -> %.4f over steps %d-%d",
            self.nnp.version,
            self.keep,
            *self.ramp,
        )
        return model

    def param_groups(self, model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        # nn_pruning's groups: mask scores at mask_scores_learning_rate, then no-decay and decay
        # weights at the suite's lr. Its mask group has no weight_decay key because transformers'
        # old AdamW defaulted to 0; torch's AdamW defaults to 0.01, so 0 is set explicitly.
        groups = self.coordinator.create_optimizer_groups(
            model, SimpleNamespace(learning_rate=lr, weight_decay=weight_decay), self.args
        )
        for group in groups:
            group.setdefault("weight_decay", 0.0)
        return [group for group in groups if group["params"]]

    def training_loss(self, model: nn.Module, batch: dict, outputs, ctx: RunContext) -> torch.Tensor:
        loss = super().training_loss(model, batch, outputs, ctx)
        if self.config.regularization != "disabled":
            regu, lam, _info = self.coordinator.regularization_loss(model)
            loss = loss + lam * regu
        return loss

    def on_step_end(self, model: nn.Module, step: int, ctx: RunContext) -> None:
        # Sets the kept fraction the next forward pass uses (the Trainer mixin does this before the
        # forward of step `global_step + 1`, i.e. with the same step count).
        self.coordinator.schedule_threshold(step, ctx.total_steps, self.warmup_steps, training=True)

    def flop_fraction(self, model: nn.Module, ctx: RunContext) -> float:
        # The weights stay dense until compile_model; the kept fraction is the current threshold.
        report = ctx.measure_flops(model)
        kept = report.dense - report.encoder_linear_flops * (1.0 - self.threshold)
        return kept / ctx.reference.dense

    @property
    def threshold(self) -> float:
        return self.coordinator.patcher_context.get_context_data("threshold")

    def finalize(self, model: nn.Module, ctx: RunContext) -> nn.Module:
        reference = next(model.parameters())
        with torch.no_grad():
            # Final threshold (the budget's kept fraction), every MaskedLinear -> nn.Linear holding
            # mask x weight (exact zeros), head removal skipped (see suite/compat/nn_pruning.py).
            self.coordinator.compile_model(model)
        for name, linear in encoder_linears(model):
            if type(linear) is not nn.Linear:
                raise SuiteError(f"movement: {name} is {type(linear).__name__} after compile_model")
            linear.to(device=reference.device, dtype=reference.dtype)  # compile() builds on the default device
        self.stop_distilling()
        return model
