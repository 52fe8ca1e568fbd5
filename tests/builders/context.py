"""The one builder for the RunContext a method sees in unit tests (the harness builds the real one
per cell with suite.run.fit.run_context)."""

from __future__ import annotations

from torch import nn

from suite.api import Budget, PruningSchedule, RunContext, TaskSpec
from suite.flops import FlopReport, count_flops
from suite.spec.tasks import get_task


def run_context(
    reference: FlopReport | nn.Module,
    *,
    task: TaskSpec | str = "sst2",
    budget: float = 0.5,
    total_steps: int = 3,
    flop_seq_len: int = 128,
    teacher: nn.Module | None = None,
    calibration_batches: list[dict] | None = None,
    schedule: PruningSchedule | None = None,
    seed: int = 0,
) -> RunContext:
    """A cell's context; `reference` is the unpruned model's FlopReport, or the unpruned model itself
    (counted at `flop_seq_len`)."""
    if isinstance(reference, nn.Module):
        reference = count_flops(reference, flop_seq_len)
    return RunContext(
        task=get_task(task) if isinstance(task, str) else task,
        budget=Budget(budget),
        seed=seed,
        total_steps=total_steps,
        reference=reference,
        flop_seq_len=flop_seq_len,
        teacher=teacher,
        calibration_batches=calibration_batches or [],
        schedule=schedule or PruningSchedule(),
    )
