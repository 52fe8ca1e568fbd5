"""The training rule, checked from the records: every method row of a task has the same lineage steps
(task optimizer steps counted from the pre-trained checkpoint). A table whose rows trained for
different lengths compares training budgets, not methods, so a mismatch is named row by row."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from suite.leaderboard.rows import Row, row_name
from suite.records.schema import ROLE_METHOD, ROLE_TEACHER

LEGACY_NOTE = (
    "lineage and training compute not recorded; in those records `dense` is the teacher itself (S steps),"
    " `heads` and `distill` started from it and trained S steps more (2S in all), every other method S"
    " steps from the pre-trained model, so those rows are not on equal training"
)


@dataclass(frozen=True)
class LineageCheck:
    task: str
    steps: dict[Row, tuple[int, ...]]  # method rows with a recorded lineage: their distinct values
    legacy: tuple[Row, ...]  # method rows with a cell written before the training rule
    teacher: tuple[int, ...]  # the teacher row's lineage steps (fewer by design)

    @property
    def consistent(self) -> bool:
        return len({s for values in self.steps.values() for s in values}) <= 1

    @property
    def common_steps(self) -> int | None:
        values = {s for values in self.steps.values() for s in values}
        return values.pop() if len(values) == 1 else None

    def mismatch(self) -> str:
        """`252 steps: dense@1, heads@0.5; 126 steps: ksp@0.5`: the rows grouped by their lineage."""
        groups: dict[int, list[str]] = defaultdict(list)
        for row, values in sorted(self.steps.items()):
            for value in values:
                groups[value].append(row_name(row))
        ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
        return "; ".join(f"{steps} steps: {', '.join(names)}" for steps, names in ordered)


def check_lineage(frame: pd.DataFrame, task: str) -> LineageCheck:
    """From the task's `ok` cells (`records_frame` columns role, method, budget, lineage_steps)."""
    ok = frame[(frame.task == task) & (frame.status == "ok")]
    steps: dict[Row, tuple[int, ...]] = {}
    legacy: list[Row] = []
    for (method, budget), group in ok[ok.role == ROLE_METHOD].groupby(["method", "budget"], sort=True):
        row = Row(ROLE_METHOD, str(method), float(budget))
        recorded = group.lineage_steps.dropna()
        if len(recorded):
            steps[row] = tuple(sorted({int(v) for v in recorded}))
        if len(recorded) < len(group):
            legacy.append(row)
    teacher = ok[ok.role == ROLE_TEACHER].lineage_steps.dropna()
    return LineageCheck(task, steps, tuple(legacy), tuple(sorted({int(v) for v in teacher})))


def violations(tasks: list[str], checks: dict[str, LineageCheck]) -> list[str]:
    """One warning per task whose method rows differ in lineage steps (headline and tables alike)."""
    return [
        f"⚠ **Training rule violated on {task}**: its method rows trained for different lineage steps"
        f" ({checks[task].mismatch()}); their scores compare training lengths as well as methods."
        for task in tasks
        if not checks[task].consistent
    ]
