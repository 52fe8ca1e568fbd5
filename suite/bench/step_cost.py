"""Benchmarks that print figures (never timed unit tests).

`step-cost`: the cost of one training step of each method relative to a plain fine-tuning step,
measured side by side in one process: methods are timed in interleaved rounds on the same fixed
batches, so machine noise hits all of them alike.

`latency`: batch-32 CPU latency of each method's *finalized* model at each budget relative to the
unpruned model, timed in interleaved rounds. Latency depends on shapes and zeros, not on how well
the weights were trained, so the models are pruned (prepare + finalize) without fine-tuning; the
pre-trained model stands in for the teacher where a method needs one.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import DataCollatorWithPadding

from suite.api import Budget, RunContext
from suite.compute.data import load_task, tokenize
from suite.compute.models import load_model, load_tokenizer
from suite.compute.train import TrainConfig, TrainStep
from suite.flops import count_flops
from suite.registry import get_method
from suite.run.fit import run_context, starting_model
from suite.spec.tasks import get_task

# The project's step-cost targets: a ksp step (teacher forward included) at most 1.6x a plain
# fine-tuning step, a movement step (scores and their gradients) at most 2x.
TARGETS = {"ksp": 1.6, "movement": 2.0, "platon": 1.3, "obert": 3.0}
BASELINE = "dense"


@dataclass(frozen=True)
class StepCost:
    method: str
    ms_per_step: float
    ratio: float
    target: float | None


def _fixed_batches(model_name: str, task_name: str, glue_dir: Path | None, batch_size: int, seq_len: int, count: int):
    """`count` real training batches padded to `seq_len`, so every step has the same shape."""
    tokenizer = load_tokenizer(model_name)
    data = load_task(get_task(task_name), glue_dir, max_train_samples=batch_size * count, data_seed=0)
    ds = tokenize(data.train, tokenizer, seq_len)
    collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=seq_len, return_tensors="pt")
    rows = [ds[i] for i in range(len(ds))]
    return [collator(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]


def _context(method, task, budget: float, reference, teacher, batches, total_steps: int) -> RunContext:
    """The context of a benchmark step: the method's own budget (1.0 for one that does not compress)."""
    budget = Budget(budget if method.info.budgeted else 1.0)
    return run_context(
        method,
        task=task,
        budget=budget,
        seed=0,
        total_steps=total_steps,
        reference=reference,
        flop_seq_len=128,
        teacher=teacher,
        calibration_batches=batches,
    )


def step_costs(
    methods: list[str],
    model_name: str = "minilm-l6",
    task_name: str = "sst2",
    glue_dir: Path | None = None,
    batch_size: int = 32,
    seq_len: int = 128,
    steps_per_round: int = 5,
    rounds: int = 3,
    budget: float = 0.1,
    schedule_steps: int = 1000,
) -> list[StepCost]:
    """Median time per step over interleaved rounds; `schedule_steps` sets how often masks update."""
    if BASELINE not in methods:
        methods = [BASELINE, *methods]
    task = get_task(task_name)
    batches = _fixed_batches(model_name, task_name, glue_dir, batch_size, seq_len, steps_per_round)
    reference = count_flops(load_model(model_name, task, seed=0), 128)
    teacher = load_model(model_name, task, seed=1).eval().requires_grad_(False)
    steppers = {}
    for name in methods:
        method = get_method(name)
        # The weights the harness would hand over: the stand-in teacher's copy, or pre-trained ones.
        model = starting_model(method, model_name, task, 0, method.start, teacher)
        ctx = _context(method, task, budget, reference, teacher, batches[:2], schedule_steps)
        model = method.prepare(model, ctx).train()
        step = TrainStep(model, method, ctx, TrainConfig(batch_size=batch_size, learning_rate=1e-5))
        # Timed on the pruning ramp, where scores, Fisher estimates and mask updates are active
        # (the dense warm-up before it costs a plain step).
        step.step = ctx.schedule.ramp(schedule_steps)[0]
        step(batches[0])  # warm-up: allocations, first mask update
        steppers[name] = step
    samples: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, step in steppers.items():
            start = time.perf_counter()
            for batch in batches:
                step(batch)
            samples[name].append((time.perf_counter() - start) * 1000.0 / len(batches))
    base = statistics.median(samples[BASELINE])
    return [
        StepCost(name, statistics.median(samples[name]), statistics.median(samples[name]) / base, TARGETS.get(name))
        for name in methods
    ]


def format_step_costs(costs: list[StepCost], model_name: str, task_name: str) -> str:
    lines = [
        f"step cost vs a plain fine-tuning step ({model_name}, {task_name}, batch 32, length 128, "
        f"{torch.get_num_threads()} threads; steps on the pruning ramp, fp32)",
        f"{'method':12s} {'ms/step':>9s} {'ratio':>7s}  target",
    ]
    for c in costs:
        verdict = "" if c.target is None else f"<= {c.target:.1f}x  {'met' if c.ratio <= c.target else 'MISSED'}"
        lines.append(f"{c.method:12s} {c.ms_per_step:9.1f} {c.ratio:6.2f}x  {verdict}")
    return "\n".join(lines)
