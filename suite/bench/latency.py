"""Speedup of finalized models over the unpruned one, timed side by side."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from suite.bench.step_cost import BASELINE, _context, _fixed_batches
from suite.compute.models import load_model
from suite.flops import count_flops
from suite.registry import get_method
from suite.run.fit import starting_model
from suite.spec.tasks import get_task


@dataclass(frozen=True)
class LatencyRow:
    method: str
    budget: float
    ms: float
    speedup: float
    kernel: str
    target: float  # 1 / (1.5 x budget): the speedup the project asks of structured methods


def finalized_models(
    methods: list[str],
    budgets: list[float],
    model_name: str = "minilm-l6",
    task_name: str = "sst2",
    glue_dir: Path | None = None,
    seq_len: int = 128,
) -> dict[tuple[str, float], torch.nn.Module]:
    """Each method's finalized model at each budget (prepare + finalize, no training: latency follows
    shapes and zeros), the unpruned model first as (`dense`, 1.0). A method that cannot reach a budget
    is reported in a line and left out."""
    task = get_task(task_name)
    dense = load_model(model_name, task, seed=0).eval()
    reference = count_flops(dense, 128)
    batches = _fixed_batches(model_name, task_name, glue_dir, 16, seq_len, 2)
    models: dict[tuple[str, float], torch.nn.Module] = {(BASELINE, 1.0): dense}
    for name in methods:
        method = get_method(name)
        for budget in budgets if method.info.budgeted else [1.0]:
            if (name, budget) in models:
                continue
            # A gradual schedule needs a few steps to be laid out; finalize prunes to the target whatever the step.
            ctx = _context(method, task, budget, reference, dense, batches, total_steps=10)
            try:
                model = method.finalize(
                    method.prepare(starting_model(method, model_name, task, 0, method.start, dense), ctx), ctx
                )
            except Exception as exc:  # e.g. layer dropping below one layer: report and go on
                print(f"{name} at budget {budget:g}: {type(exc).__name__}: {exc}")
                continue
            models[(name, budget)] = model.eval()
    return models


def latency_speedups(
    methods: list[str],
    budgets: list[float],
    model_name: str = "minilm-l6",
    task_name: str = "sst2",
    glue_dir: Path | None = None,
    seq_len: int = 128,
    batch_size: int = 32,
    rounds: int = 5,
) -> list[LatencyRow]:
    from suite.compute.latency import time_forward

    models = finalized_models(methods, budgets, model_name, task_name, glue_dir, seq_len)
    dense = models[(BASELINE, 1.0)]
    from suite.compute.latency import CSR_MAX_DENSITY, encoder_density, with_csr_linears

    # Sparse models are timed with both kernels; the faster one is reported (as in the harness).
    timed = {(name, budget, "dense"): m for (name, budget), m in models.items()}
    for (name, budget), m in models.items():
        if encoder_density(m) <= CSR_MAX_DENSITY:
            timed[(name, budget, "csr")] = with_csr_linears(m)
    samples: dict[tuple[str, float, str], list[float]] = {key: [] for key in timed}
    for _ in range(rounds):
        for key, model in timed.items():
            ms = time_forward(model, seq_len, [batch_size], warmup=1, repeats=1, vocab_size=dense.config.vocab_size)
            samples[key].append(ms[f"batch_{batch_size}"])
    base = statistics.median(samples[(BASELINE, 1.0, "dense")])
    best: dict[tuple[str, float], tuple[float, str]] = {}
    for (name, budget, kernel), values in samples.items():
        ms = statistics.median(values)
        if (name, budget) not in best or ms < best[(name, budget)][0]:
            best[(name, budget)] = (ms, kernel)
    return [
        LatencyRow(name, budget, ms, base / ms, kernel, 1.0 / (1.5 * budget))
        for (name, budget), (ms, kernel) in best.items()
    ]


def format_latency(rows: list[LatencyRow], model_name: str) -> str:
    lines = [
        f"batch-32 latency at length 128 vs the unpruned model ({model_name}, {torch.get_num_threads()} threads)",
        f"{'method':10s} {'budget':>6s} {'ms':>8s} {'speedup':>8s} {'kernel':>6s}  target (speedup >= 1/(1.5 b))",
    ]
    for r in sorted(rows, key=lambda r: (-r.budget, r.method)):
        verdict = "" if r.budget == 1.0 else f"{r.target:.2f}x {'met' if r.speedup >= r.target else 'missed'}"
        lines.append(f"{r.method:10s} {r.budget:6g} {r.ms:8.1f} {r.speedup:7.2f}x {r.kernel:>6s}  {verdict}")
    return "\n".join(lines)
