"""What a tune runs: per (task, method) the same number of trials over the method's search space, in
two phases, and how long that takes by the times of finished cells.

Phase 1 tunes every row that does not depend on the teacher (the teacher itself, the dense reference
and the methods that neither distil nor start from it); phase 2 tunes the rest against the teacher
that phase 1 chose for each task, so a distilling method is tuned with the teacher it will be run
with. Every trial is one cell at the tune's budget and seed, scored on the held-out split.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.records.reader import read_records
from suite.records.schema import FINISHED
from suite.registry import get_method, get_registered
from suite.run.identity import TEACHER_METHOD, uses_teacher
from suite.spec.knobs import knobs_of
from suite.spec.presets import Preset
from suite.spec.search import Param

PHASES = ("independent", "with-teacher")


@dataclass(frozen=True)
class Study:
    task: str
    method: str
    phase: str  # one of PHASES
    space: dict[str, Param]
    defaults: dict[str, Any]  # the method's default value of each knob in its space


@dataclass(frozen=True)
class TunePlan:
    preset: Preset  # scored on the held-out split, at the tune's budget and seed alone
    trials: int
    budget: float
    seed: int
    studies: tuple[Study, ...]
    # Budgets above `budget`, in order, that a method which cannot reach `budget` is tuned at instead
    # (the first it reaches), so that it is tuned like every other method rather than not at all.
    fallback_budgets: tuple[float, ...] = ()

    def phase(self, name: str) -> list[Study]:
        return [s for s in self.studies if s.phase == name]

    @property
    def teacher_needed(self) -> bool:
        return any(s.phase == PHASES[1] for s in self.studies)


def plan_tune(
    preset: Preset, methods: list[str], trials: int, budget: float, seed: int, fallback_budgets: tuple[float, ...] = ()
) -> TunePlan:
    """The studies of `methods` on the preset's tasks. The teacher is tuned whenever a method depends
    on it (its choice decides what they distil from), even where `methods` leaves it out. A method that
    cannot reach `budget` is tuned at the smallest of `fallback_budgets` above it that it reaches."""
    names = list(dict.fromkeys(methods))
    if TEACHER_METHOD not in names and any(uses_teacher(get_method(n)) for n in names):
        names.insert(0, TEACHER_METHOD)
    studies = []
    for task in preset.tasks:
        for name in names:
            registered = get_registered(name)
            defaults = {k.path: k.value for k in knobs_of(registered.default_config())}
            space = registered.search.with_learning_rate()
            phase = PHASES[1] if uses_teacher(get_method(name)) else PHASES[0]
            studies.append(Study(task, name, phase, space, {p: defaults[p] for p in space if p in defaults}))
    studies.sort(key=lambda s: PHASES.index(s.phase))
    # A trial is chosen by its score alone: its latency is timed once at batch 1 (not in any hash), not
    # at the preset's batches and repeats, which would add minutes per trial for figures no one reads.
    tuning = dataclasses.replace(
        preset, budgets=(budget,), seeds=(seed,), latency_batches=(1,), latency_repeats=1, latency_engines=()
    )
    fallbacks = tuple(sorted({b for b in fallback_budgets if b > budget}))
    return TunePlan(tuning, trials, budget, seed, tuple(studies), fallbacks)


def cell_seconds(results_dir: Path) -> dict[tuple[str, str], float]:
    """Mean wall time of the finished cells per (task, method) in a results folder (the teacher's row
    includes training the teacher): the figures a tune's hours are estimated from."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record in read_records(results_dir):
        wall = record.get("wall_s")
        if record.get("status") in FINISHED and isinstance(wall, int | float) and math.isfinite(wall):
            times[(record.get("task"), record.get("method"))].append(float(wall))
    return {key: sum(values) / len(values) for key, values in times.items()}


def estimate_hours(plan: TunePlan, seconds: dict[tuple[str, str], float]) -> tuple[float, list[str]]:
    """Hours the plan's trials take at the given cell times, and the (task, method) pairs with none."""
    total, missing = 0.0, []
    for study in plan.studies:
        per_cell = seconds.get((study.task, study.method))
        if per_cell is None:
            missing.append(f"{study.task}/{study.method}")
            continue
        total += plan.trials * per_cell
    return total / 3600, missing


def describe_space(space: dict[str, Param]) -> str:
    return "; ".join(f"{name} {param}" for name, param in space.items())


def plan_summary(plan: TunePlan) -> dict[str, Any]:
    """The plan as the tuned file records it."""
    return {
        "trials": plan.trials,
        "budget": plan.budget,
        "seed": plan.seed,
        "fallback_budgets": list(plan.fallback_budgets),
        "spaces": {f"{s.task}/{s.method}": {n: str(p) for n, p in s.space.items()} for s in plan.studies},
    }
