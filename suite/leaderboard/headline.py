"""The headline of a leaderboard: per budget, methods ranked by GLUE average and their gap to the reference.

This is the one question the suite exists to answer (at the same FLOP budget, which method keeps the
most accuracy?), stated from the records alone so that it can never drift from the tables.
"""

from __future__ import annotations

import pandas as pd

from suite.leaderboard.frame import REFERENCE_BUDGET, task_order
from suite.leaderboard.tables import glue_average, table_budgets


def _averages(frame: pd.DataFrame, budget: float, tasks: list[str]) -> dict[str, float]:
    """GLUE average (mean over seeds) of every method at `budget` that has a score on every task."""
    out = {}
    for method, group in frame[frame.budget == budget].groupby("method", sort=True):
        stat = glue_average(group, tasks)
        if stat is not None:
            out[str(method)] = stat.mean
    return out


def headline_lines(frame: pd.DataFrame) -> list[str]:
    """One markdown bullet per budget: the ranking by GLUE average and the best method's gap."""
    tasks = task_order(frame.task)
    reference = _averages(frame, REFERENCE_BUDGET, tasks)
    reference_text = ", ".join(f"{m} {v:.1f}" for m, v in sorted(reference.items())) or "not run"
    lines = [f"- Unpruned reference (budget 1) average: {reference_text}."]
    for budget in table_budgets(frame):
        if budget == REFERENCE_BUDGET:
            continue
        averages = _averages(frame, budget, tasks)
        missing = sorted(set(frame[frame.budget == budget].method) - set(averages))
        if not averages:
            line = f"- Budget {budget:g}: no method has a score on every task yet."
        else:
            ranked = sorted(averages.items(), key=lambda item: (-item[1], item[0]))
            best, best_average = ranked[0]
            line = f"- Budget {budget:g}: best **{best}** {best_average:.1f}"
            if len(reference) == 1:
                gap = best_average - next(iter(reference.values()))
                line += f" ({gap:+.1f} points vs the reference)"
            line += ". Ranking: " + " > ".join(f"{m} {v:.1f}" for m, v in ranked) + "."
        if missing:
            line += f" Not ranked (a task failed, over budget or not run yet): {', '.join(missing)}."
        lines.append(line)
    return lines


def render_headline(frame: pd.DataFrame) -> list[str]:
    return [
        "## Headline",
        "",
        "GLUE average over the tasks of this leaderboard (mean over seeds); a method is ranked at a",
        "budget only when it has an `ok` score on every task there.",
        "",
        *headline_lines(frame),
    ]
