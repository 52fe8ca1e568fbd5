"""Per-budget markdown tables: rows methods, columns task scores, average, FLOP fraction, speedup, params."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.leaderboard.frame import REFERENCE_BUDGET, task_order

MISSING = "–"
AVERAGE = "average"


@dataclass(frozen=True)
class Stat:
    """Mean and sample std of one column's values for one row, with how it is shown."""

    values: tuple[float, ...]
    digits: int = 1
    unit: str = ""

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def shown_mean(self) -> str:
        return f"{self.mean:.{self.digits}f}"

    def text(self, with_n: bool = True, with_std: bool = True) -> str:
        out = f"{self.shown_mean}{self.unit}"
        if with_std and len(self.values) > 1:
            out += f" ± {float(np.std(self.values, ddof=1)):.{self.digits}f}"
        return f"{out} (n={len(self.values)})" if with_n else out


@dataclass(frozen=True)
class Column:
    name: str
    stat: Callable[[pd.DataFrame, list[str]], Stat | None]
    higher_is_better: bool
    marks: Callable[[pd.DataFrame], str] = lambda group: ""
    with_n: bool = True
    with_std: bool = True  # False where the spread over tasks says nothing (FLOPs, params: set by the budget)


def status_marks(group: pd.DataFrame) -> str:
    labels = {"failed": "failed", "over_budget": "over budget"}
    counts = [(int((group.status == status).sum()), label) for status, label in labels.items()]
    return ", ".join(f"{n} {label}" for n, label in counts if n)


def _ok(group: pd.DataFrame) -> pd.DataFrame:
    return group[group.status == "ok"]


def task_score(task: str) -> Callable[[pd.DataFrame, list[str]], Stat | None]:
    def stat(group: pd.DataFrame, tasks: list[str]) -> Stat | None:
        scores = _ok(group[group.task == task]).score.dropna()
        return Stat(tuple(scores)) if len(scores) else None

    return stat


def glue_average(group: pd.DataFrame, tasks: list[str]) -> Stat | None:
    """Per seed, the mean of the task scores (every task needed), then mean ± std over seeds."""
    per_seed = _ok(group).pivot_table(index="seed", columns="task", values="score", aggfunc="mean")
    complete = per_seed.reindex(columns=tasks).dropna()
    return Stat(tuple(complete.mean(axis=1))) if len(complete) else None


def over_cells(column: str, digits: int, unit: str = "", scale: float = 1.0):
    """A statistic over every `ok` cell of the row (all tasks and seeds)."""

    def stat(group: pd.DataFrame, tasks: list[str]) -> Stat | None:
        values = _ok(group)[column].dropna()
        return Stat(tuple(values / scale), digits, unit) if len(values) else None

    return stat


def columns_for(tasks: list[str]) -> list[Column]:
    def task_marks(task: str) -> Callable[[pd.DataFrame], str]:
        return lambda group: status_marks(group[group.task == task])

    return [
        *(Column(task, task_score(task), True, task_marks(task)) for task in tasks),
        Column(AVERAGE, glue_average, True),
        Column("FLOP fraction", over_cells("fraction", 3), False, with_n=False, with_std=False),
        Column("speedup (b32)", over_cells("speedup", 2, "x"), True, with_n=False),
        Column("params (M, nonzero)", over_cells("params_nonzero", 2, scale=1e6), False, with_n=False, with_std=False),
    ]


def _row_label(method: str, budget: float, table_budget: float) -> str:
    return method if budget == table_budget else f"{method} (budget {budget:g})"


def budget_table(frame: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The methods at `budget` plus the unpruned reference rows; best value per column in bold.

    "Best" is taken over the rows at this budget only (not the reference) and on the shown rounding,
    so ties are all marked. Rows are ordered: reference rows, then by GLUE average, best first.
    """
    tasks = task_order(frame.task)
    columns = columns_for(tasks)
    rows = frame[(frame.budget == budget) | (frame.budget == REFERENCE_BUDGET)]
    entries = []
    for (method, row_budget), group in rows.groupby(["method", "budget"], sort=True):
        stats = {c.name: c.stat(group, tasks) for c in columns}
        marks = {c.name: c.marks(group) for c in columns}
        entries.append((method, row_budget, stats, marks))

    best: dict[str, str] = {}
    for column in columns:
        candidates = [e[2][column.name] for e in entries if e[1] == budget and e[2][column.name] is not None]
        if candidates:
            pick = max if column.higher_is_better else min
            best[column.name] = pick(candidates, key=lambda s: s.mean).shown_mean

    def order(entry) -> tuple:
        method, row_budget, stats, _ = entry
        is_reference = row_budget == REFERENCE_BUDGET and budget != REFERENCE_BUDGET
        average = stats[AVERAGE]
        return (not is_reference, -average.mean if average else math.inf, method)

    table = []
    for method, row_budget, stats, marks in sorted(entries, key=order):
        row = {"method": _row_label(method, row_budget, budget)}
        for column in columns:
            stat, mark = stats[column.name], marks[column.name]
            text = stat.text(column.with_n, column.with_std) if stat is not None else ""
            if stat is not None and row_budget == budget and best.get(column.name) == stat.shown_mean:
                text = f"**{text}**"
            if mark:
                text = f"{text} [{mark}]" if text else mark
            row[column.name] = text or MISSING
        table.append(row)
    return pd.DataFrame(table, columns=["method", *(c.name for c in columns)])


def table_budgets(frame: pd.DataFrame) -> list[float]:
    budgets = sorted({b for b in frame.budget if b != REFERENCE_BUDGET}, reverse=True)
    return budgets or [REFERENCE_BUDGET]


def render_markdown(frame: pd.DataFrame, title: str = "Leaderboard") -> str:
    from suite.leaderboard.headline import render_headline  # it builds on this module's statistics

    if frame.empty:
        raise ValueError("no result records found")
    parts = [
        f"# {title}",
        "",
        "Primary GLUE dev metric per task (0-100): mean ± sample std over seeds, n = seeds. `average`:",
        "per seed the mean over the tasks of this table (every task needed), then over seeds.",
        "FLOP fraction (effective FLOPs / dense FLOPs of the unpruned model), measured batch-32 CPU",
        "speedup over the unpruned model (timed beside it in the same cell) and nonzero parameters are",
        "means over every `ok` cell of the row. **Bold**: best row of the budget in that column.",
        "`(budget 1)` rows are the uncompressed reference (the teacher). `failed` and `over budget`",
        "cells are counted in brackets and left out of every mean; `–`: no result (not run, e.g. a",
        "budget the method cannot reach by design: see its card).",
        "How the numbers are made: [README.md](README.md).",
        "",
        *render_headline(frame),
    ]
    for budget in table_budgets(frame):
        parts += ["", f"## Budget {budget:g} (effective FLOPs ≤ {budget:g} × dense)", ""]
        parts.append(budget_table(frame, budget).to_markdown(index=False, disable_numparse=True))
    return "\n".join(parts) + "\n"
