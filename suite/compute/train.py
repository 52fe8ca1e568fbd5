"""One plain training loop, identical for every method; methods act only through their hooks."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import torch
from datasets import Dataset
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup
from transformers.trainer_pt_utils import LengthGroupedSampler

from suite.api import PruningMethod, RunContext
from suite.compute.curves import TrainingCurve
from suite.compute.device import CPU, Placement
from suite.errors import NonFiniteLossError
from suite.records.formats import CurveRow
from suite.spec.schedules import TrainConfig


@dataclass(frozen=True)
class TrainStats:
    steps: int
    examples: int
    final_loss: float
    wall_s: float
    # (batch size, padded length) -> number of steps with that shape: the real token counts the
    # training-compute estimate is made from.
    batch_shapes: dict[tuple[int, int], int] = field(default_factory=dict)
    curve: list[CurveRow] = field(default_factory=list)  # suite.compute.curves rows, when a curve was asked for


def make_loader(ds: Dataset, collator, batch_size: int, seed: int | None, group_by_length: bool = False) -> DataLoader:
    """Batches of `ds`: in order (seed None), reshuffled every epoch, or, with `group_by_length`, in
    length-grouped batches whose order is reshuffled every epoch. Either order is a pure function of
    the seed: the sampler draws from its own generator."""
    generator = None
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    if group_by_length and seed is not None:
        lengths = [len(ids) for ids in ds["input_ids"]]
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, collate_fn=collator)
    return DataLoader(ds, batch_size=batch_size, shuffle=seed is not None, generator=generator, collate_fn=collator)


def _schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total: int):
    warmup = int(cfg.warmup_ratio * total)
    if cfg.lr_schedule == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    return get_linear_schedule_with_warmup(optimizer, warmup, total)


class TrainStep:
    """One optimizer step of the shared recipe; `train` loops over it, the step-cost bench times it."""

    def __init__(
        self,
        model: torch.nn.Module,
        method: PruningMethod,
        ctx: RunContext,
        cfg: TrainConfig,
        placement: Placement = CPU,
    ) -> None:
        self.model, self.method, self.ctx, self.cfg, self.placement = model, method, ctx, cfg, placement
        self.optimizer = torch.optim.AdamW(method.param_groups(model, cfg.learning_rate, cfg.weight_decay))
        self.scheduler = _schedule(self.optimizer, cfg, ctx.total_steps)
        self.scaler = placement.grad_scaler()
        self.forward_kwargs = method.forward_kwargs()
        self.step = 0
        self.lr = cfg.learning_rate  # the schedule's learning rate at the last step taken

    def __call__(self, batch: dict[str, torch.Tensor]) -> float:
        batch = {k: v.to(self.placement.device, non_blocking=True) for k, v in batch.items()}
        with self.placement.autocast():  # forward passes (student and teacher) in the cell's precision
            outputs = self.model(**batch, **self.forward_kwargs)
            loss = self.method.training_loss(self.model, batch, outputs, self.ctx)
        loss = loss.float()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLossError(f"loss became {value} at step {self.step + 1}")
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # clip the true gradients
        self.method.on_gradients(self.model, self.step + 1, self.ctx)
        if self.cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        # Every group follows the same schedule factor (a method's own groups, e.g. mask scores, have
        # their own base rates): the shared rate is the preset's times that factor.
        group = self.optimizer.param_groups[0]
        self.lr = self.cfg.learning_rate * group["lr"] / group["initial_lr"]
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.method.on_step_end(self.model, self.step, self.ctx)
        return value


def train(
    model: torch.nn.Module,
    method: PruningMethod,
    ctx: RunContext,
    train_set: Dataset,
    collator,
    cfg: TrainConfig,
    progress: bool = True,
    placement: Placement = CPU,
    curve_every: int | None = None,
) -> TrainStats:
    """Run exactly ctx.total_steps optimizer steps over reshuffled epochs of `train_set`; with
    `curve_every`, keep a training-curve row every that many steps and at the last."""
    start = time.perf_counter()
    step_fn = TrainStep(model, method, ctx, cfg, placement)
    loader = make_loader(train_set, collator, cfg.batch_size, seed=ctx.seed, group_by_length=cfg.group_by_length)
    model.train()
    examples = 0
    shapes: Counter[tuple[int, int]] = Counter()
    loss_value = float("nan")
    curve = TrainingCurve(curve_every, ctx.total_steps) if curve_every else None
    bar = tqdm(total=ctx.total_steps, desc="train", leave=False, disable=not progress)
    while step_fn.step < ctx.total_steps:
        for batch in loader:
            loss_value = step_fn(batch)
            batch_size, length = batch["input_ids"].shape
            examples += int(batch_size)
            shapes[(int(batch_size), int(length))] += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
            if curve is not None and curve.due(step_fn.step):
                fraction = method.flop_fraction(model, ctx)
                curve.add(step_fn.step, loss_value, step_fn.lr, fraction, method.loss_parts())
            if step_fn.step >= ctx.total_steps:
                break
    bar.close()
    placement.synchronize()  # wall_s covers the queued GPU work
    model.eval()
    rows = curve.rows if curve is not None else []
    return TrainStats(step_fn.step, examples, loss_value, time.perf_counter() - start, dict(shapes), rows)
