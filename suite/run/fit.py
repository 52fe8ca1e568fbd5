"""prepare -> train -> finalize -> evaluate: the one path that trains a model, for students and teachers.

The starting weights and the step count come from the training rule (the cell's `Lineage`); a
method never picks them itself.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from suite.api import Budget, PruningMethod, RunContext
from suite.compute.data import TaskData
from suite.compute.device import Placement
from suite.compute.evaluation import Evaluation, evaluate
from suite.compute.models import load_model
from suite.compute.train import TrainStats, make_loader, train
from suite.flops import FlopReport, count_flops, training_flops
from suite.run.inputs import Inputs
from suite.spec.rules import Lineage
from suite.spec.schedules import PruningSchedule, TrainConfig
from suite.spec.tasks import TaskSpec

CALIBRATION_BATCHES = 4


@dataclass
class Trained:
    model: torch.nn.Module
    stats: TrainStats
    evaluation: Evaluation
    eval_s: float
    flops: float  # estimated training compute (suite.flops.training_flops)


def starting_model(
    method: PruningMethod, model_name: str, task: TaskSpec, seed: int, start: str, teacher: nn.Module | None
) -> nn.Module:
    """The weights the training rule starts from (`start`, the lineage's): a trainable copy of the
    teacher, or the pre-trained checkpoint with a fresh head. Benchmarks hand over the same weights."""
    if start == "teacher":
        if teacher is None:
            raise RuntimeError(f"{method.info.name} starts from the teacher, but no teacher was loaded")
        return copy.deepcopy(teacher).requires_grad_(True).train()
    return load_model(model_name, task, seed)


def run_context(
    method: PruningMethod,
    *,
    task: TaskSpec,
    budget: Budget,
    seed: int,
    total_steps: int,
    reference: FlopReport,
    flop_seq_len: int,
    teacher: nn.Module | None = None,
    calibration_batches: list[dict] | None = None,
    schedule: PruningSchedule | None = None,
) -> RunContext:
    """What a method's hooks see of a cell (benchmarks build theirs here too)."""
    return RunContext(
        task=task,
        budget=budget,
        seed=seed,
        total_steps=total_steps,
        reference=reference,
        flop_seq_len=flop_seq_len,
        # A private copy: hooks or edits a method puts on its teacher die with the cell.
        teacher=copy.deepcopy(teacher) if teacher is not None and method.info.needs_teacher else None,
        calibration_batches=calibration_batches or [],
        logger=logging.getLogger(f"suite.method.{method.info.name}"),
        schedule=schedule or PruningSchedule(),
    )


class Fitter:
    def __init__(self, inputs: Inputs, placement: Placement, progress: bool = True) -> None:
        self.inputs = inputs
        self.preset = inputs.preset
        self.placement = placement
        self.progress = progress

    def fit(
        self,
        task_name: str,
        seed: int,
        method: PruningMethod,
        budget: Budget,
        teacher: nn.Module | None,
        lineage: Lineage,
        cfg: TrainConfig,
    ) -> Trained:
        data = self.inputs.task_data(task_name)
        collator = self.inputs.collator
        device = self.placement.device
        model = starting_model(method, self.preset.model, data.task, seed, lineage.start, teacher).to(device)
        batches = _calibration_batches(data, collator, cfg.batch_size, seed)
        calibration = [{k: v.to(device) for k, v in batch.items()} for batch in batches]
        ctx = run_context(
            method,
            task=data.task,
            budget=budget,
            seed=seed,
            total_steps=lineage.own_steps,
            reference=self.inputs.reference_flops(task_name),
            flop_seq_len=self.preset.flop_seq_len,
            teacher=teacher,
            calibration_batches=calibration,
            schedule=self.preset.pruning_schedule,
        )
        model = method.prepare(model, ctx).to(device)  # parameters a method added (scores) move too
        student_flops = count_flops(model, self.preset.flop_seq_len)
        teacher_batches: Counter[tuple[int, int]] = Counter()
        hook = None
        if ctx.teacher is not None:
            hook = ctx.teacher.register_forward_pre_hook(_shape_counter(teacher_batches), with_kwargs=True)
        torch.manual_seed(seed)  # dropout masks: the same stream for every method
        try:
            stats = train(
                model,
                method,
                ctx,
                data.train,
                collator,
                cfg,
                progress=self.progress,
                placement=self.placement,
                curve_every=self.preset.curve_every,
            )
        finally:
            if hook is not None:
                hook.remove()
        flops = training_flops(
            student_flops,
            stats.batch_shapes,
            count_flops(ctx.teacher, self.preset.flop_seq_len) if ctx.teacher is not None else None,
            dict(teacher_batches),
        )
        model = method.finalize(model, ctx)
        model.eval()
        eval_start = time.perf_counter()
        evaluation = evaluate(model, data.task, data.evals, collator, self.placement)
        return Trained(model, stats, evaluation, time.perf_counter() - eval_start, flops)


def _calibration_batches(data: TaskData, collator, batch_size: int, seed: int) -> list[dict]:
    loader = make_loader(data.train, collator, batch_size, seed=seed + 10_000)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) >= CALIBRATION_BATCHES:
            break
    return batches


def _shape_counter(counts: Counter[tuple[int, int]]) -> Callable[..., None]:
    """A forward pre-hook that counts the (batch size, length) of every call: the teacher's forwards."""

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            counts[(int(ids.shape[0]), int(ids.shape[1]))] += 1

    return hook
