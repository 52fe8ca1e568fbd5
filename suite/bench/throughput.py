"""`bench throughput`: training examples per second of the old path (fp32, random batches) and of a
candidate (by default bf16 autocast with length-grouped batches), on each task's real training data.

Both run plain fine-tuning steps of the same model on batches drawn the way a cell draws them, in
interleaved rounds, so the machine's background load hits both alike; the figure is their ratio.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import DataCollatorWithPadding

from suite.api import Budget
from suite.compute.data import load_task, tokenize
from suite.compute.device import Placement
from suite.compute.models import load_model, load_tokenizer
from suite.compute.train import TrainConfig, TrainStep, make_loader
from suite.flops import count_flops
from suite.registry import get_method
from suite.run.fit import run_context
from suite.spec.presets import Preset
from suite.spec.tasks import get_task


@dataclass(frozen=True)
class TaskThroughput:
    task: str
    baseline: float  # examples per second
    candidate: float
    padded_baseline: float  # mean padded length of the timed batches
    padded_candidate: float
    weight: float  # examples the preset's grid trains on this task per unit of schedule (S x batch)

    @property
    def ratio(self) -> float:
        return self.candidate / self.baseline


def _spread(batches: list[dict], count: int) -> list[dict]:
    """`count` batches whose padded lengths stand for the whole epoch: the epoch's batches sorted by
    length, taken at evenly spaced quantiles. Taking them by position would not do: a length-grouped
    epoch is sorted within each megabatch, so every k-th batch is biased towards one end."""
    ordered = sorted(batches, key=lambda b: int(b["input_ids"].shape[1]))
    count = min(count, len(ordered))
    return [ordered[int((i + 0.5) * len(ordered) / count)] for i in range(count)]


def task_throughput(
    task_name: str,
    preset: Preset,
    glue_dir: Path | None,
    candidate: Placement,
    candidate_grouped: bool,
    batches_per_round: int = 4,
    rounds: int = 3,
) -> TaskThroughput:
    task = get_task(task_name)
    cfg = preset.train_for(task_name)
    tokenizer = load_tokenizer(preset.model)
    data = load_task(task, glue_dir, preset.max_train_samples, None, preset.data_seed)
    train = tokenize(data.train, tokenizer, cfg.max_seq_length)
    collator = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    baseline = Placement(candidate.device, "fp32")
    runs = {}
    for name, placement, grouped in (("baseline", baseline, False), ("candidate", candidate, candidate_grouped)):
        batches = _spread(
            list(make_loader(train, collator, cfg.batch_size, seed=0, group_by_length=grouped)), batches_per_round
        )
        model = load_model(preset.model, task, seed=0).to(placement.device).train()
        dense = get_method("dense")
        reference = count_flops(model, preset.flop_seq_len)
        ctx = run_context(
            dense,
            task=task,
            budget=Budget(1.0),
            seed=0,
            total_steps=10**6,
            reference=reference,
            flop_seq_len=preset.flop_seq_len,
        )
        step = TrainStep(model, dense, ctx, TrainConfig(batch_size=cfg.batch_size), placement)
        step(batches[0])  # warm-up: allocations, autocast caches
        runs[name] = (step, batches, placement)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (step, batches, placement) in runs.items():
            placement.synchronize()
            start = time.perf_counter()
            for batch in batches:
                step(batch)
            placement.synchronize()
            seconds[name].append(time.perf_counter() - start)

    def rate(name: str) -> float:
        examples = sum(int(b["input_ids"].shape[0]) for b in runs[name][1])
        return examples / statistics.median(seconds[name])

    def padded(name: str) -> float:
        return statistics.mean(int(b["input_ids"].shape[1]) for b in runs[name][1])

    weight = float(cfg.total_steps(len(train)) * cfg.batch_size)
    return TaskThroughput(
        task_name, rate("baseline"), rate("candidate"), padded("baseline"), padded("candidate"), weight
    )


def overall_ratio(rows: list[TaskThroughput]) -> float:
    """Time of the grid's training examples on the old path over the candidate's, tasks weighted by
    how many examples the preset trains on each."""
    old = sum(r.weight / r.baseline for r in rows)
    new = sum(r.weight / r.candidate for r in rows)
    return old / new


def format_throughput(rows: list[TaskThroughput], preset: Preset, candidate: Placement, grouped: bool) -> str:
    batching = "length-grouped" if grouped else "random"
    lines = [
        f"training throughput, {preset.model}, {preset.name} preset data, {torch.get_num_threads()} threads on "
        f"{candidate.record['name']}: fp32 random batches vs {candidate.precision} {batching} batches",
        f"{'task':6s} {'old ex/s':>9s} {'new ex/s':>9s} {'ratio':>7s}  padded length old -> new",
    ]
    for r in rows:
        lines.append(
            f"{r.task:6s} {r.baseline:9.1f} {r.candidate:9.1f} {r.ratio:6.2f}x  "
            f"{r.padded_baseline:.0f} -> {r.padded_candidate:.0f}"
        )
    lines.append(f"overall: {overall_ratio(rows):.2f}x")
    return "\n".join(lines)
