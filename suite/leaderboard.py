"""Result records -> markdown tables. Reads result files only; never trains, never imports torch."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from suite.results import read_records

REFERENCE_BUDGET = 1.0
MISSING = "–"


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "method": r["method"],
            "task": r["task"],
            "budget": float(r["budget"]),
            "seed": int(r["seed"]),
            "status": r.get("status", "failed"),
            "score": r.get("score"),
            "fraction": (r.get("flops") or {}).get("fraction"),
        }
        for r in records
    ]
    columns = ["method", "task", "budget", "seed", "status", "score", "fraction"]
    return pd.DataFrame(rows, columns=columns)


def _fmt(values: list[float]) -> str:
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.1f} (n=1)"
    return f"{mean:.1f} ± {float(np.std(values, ddof=1)):.1f} (n={len(values)})"


def _cell(group: pd.DataFrame) -> str:
    ok = group[group.status == "ok"]
    marks = []
    if (group.status == "failed").any():
        marks.append(f"{int((group.status == 'failed').sum())} failed")
    if (group.status == "over_budget").any():
        marks.append(f"{int((group.status == 'over_budget').sum())} over budget")
    text = _fmt(ok.score.astype(float).tolist()) if len(ok) else ""
    note = ", ".join(marks)
    if text and note:
        return f"{text} [{note}]"
    return text or note or MISSING


def _average(rows: pd.DataFrame, tasks: list[str]) -> str:
    """GLUE average over tasks: per seed, the mean of task scores, then mean ± std over seeds."""
    ok = rows[rows.status == "ok"]
    per_seed = ok.pivot_table(index="seed", columns="task", values="score", aggfunc="mean")
    complete = per_seed.reindex(columns=tasks).dropna()
    if complete.empty:
        return MISSING
    return _fmt(complete.mean(axis=1).tolist())


def budget_table(frame: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Rows: methods at this budget, plus the uncompressed reference rows; columns: tasks + avg."""
    tasks = sorted(frame.task.unique())
    rows = frame[(frame.budget == budget) | (frame.budget == REFERENCE_BUDGET)]
    table = []
    for (method, method_budget), group in sorted(rows.groupby(["method", "budget"]), key=_row_order):
        label = method if method_budget == budget else f"{method} (budget {method_budget:g})"
        row = {"method": label}
        for task in tasks:
            cells = group[group.task == task]
            row[task] = _cell(cells) if len(cells) else MISSING
        row["average"] = _average(group, tasks)
        table.append(row)
    return pd.DataFrame(table, columns=["method", *tasks, "average"])


def _row_order(item: tuple) -> tuple:
    (method, budget), _ = item
    return (budget != REFERENCE_BUDGET, method)


def render_markdown(records: list[dict[str, Any]], title: str = "Leaderboard") -> str:
    frame = records_frame(records)
    if frame.empty:
        raise ValueError("no result records found")
    budgets = sorted({b for b in frame.budget if b != REFERENCE_BUDGET}, reverse=True) or [REFERENCE_BUDGET]
    parts = [
        f"# {title}",
        "",
        "Primary GLUE dev metric per task (0-100), mean ± sample std over seeds (n = seeds).",
        "Rows marked `(budget 1)` are uncompressed references. `failed` and `over budget` cells are",
        "not averaged; an average needs every task.",
    ]
    for budget in budgets:
        table = budget_table(frame, budget)
        parts += ["", f"## Budget {budget:g} (effective FLOPs ≤ {budget:g} × dense)", ""]
        parts.append(table.to_markdown(index=False))
    return "\n".join(parts) + "\n"


def write_leaderboard(results_dir: Path, out: Path) -> Path:
    records = read_records(results_dir)
    if not records:
        raise FileNotFoundError(f"no result records under {results_dir}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "leaderboard.md"
    path.write_text(render_markdown(records))
    return path
