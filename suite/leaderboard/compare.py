"""Two results folders side by side: every row both have, A minus B, with the board's paired statistics.

What it is for: the same grid run twice with one thing changed (tuned knobs against the defaults, a
rerun on the same or another machine, a method variant's folder against the original's). A board
compares rows within one run; this compares each row with itself across two runs. The bootstrap
index matrices depend only on the task and its number of examples (`bootstrap.task_indices`), so two
boards scored on the same dev labels pair resample by resample, and rows pair seed by seed
(`Estimate.minus`): a difference is called by the headline's rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from suite.errors import SuiteError
from suite.leaderboard.board import Board
from suite.leaderboard.estimates import Estimate, format_difference, format_estimate
from suite.leaderboard.rows import row_name

AVERAGE = "average"


@dataclass(frozen=True)
class Comparison:
    task: str  # a task, or AVERAGE: the mean over the tasks both boards average
    row: str  # row_name(): `ksp@0.1`, `dense@1`, `teacher`, `trivial baseline`
    a: Estimate
    b: Estimate

    @property
    def difference(self) -> Estimate:
        return self.a.minus(self.b)


def _check_pairable(a: Board, b: Board, tasks: list[str]) -> None:
    for task in tasks:
        mine, theirs = a.label_digests.get(task), b.label_digests.get(task)
        if mine is not None and theirs is not None and mine != theirs:
            raise SuiteError(
                f"{task}: the two folders were scored on different dev labels (another split, eval cap or"
                " data); compare runs made with the same data settings"
            )


def compare_boards(a: Board, b: Board) -> list[Comparison]:
    """Per task both boards have, every row scored in both; then the average over the tasks both
    boards put in their GLUE average, for every row both have on all of them."""
    tasks = [t for t in a.tasks if t in b.tasks]
    if not tasks:
        raise SuiteError(f"the two folders share no task ({', '.join(a.tasks)} vs {', '.join(b.tasks)})")
    _check_pairable(a, b, tasks)
    theirs_rows = set(b.rows())
    rows = [row for row in a.rows() if row in theirs_rows]
    out = []
    for task in tasks:
        for row in rows:
            mine, theirs = a.score(row, task), b.score(row, task)
            if mine is not None and theirs is not None:
                out.append(Comparison(task, row_name(row), mine, theirs))
    averaged = [t for t in a.average_tasks if t in b.average_tasks]
    if len(averaged) > 1:
        for row in rows:
            mine, theirs = a.average(row, averaged), b.average(row, averaged)
            if mine is not None and theirs is not None:
                out.append(Comparison(AVERAGE, row_name(row), mine, theirs))
    return out


def comparison_table(comparisons: list[Comparison], names: tuple[str, str] = ("A", "B")) -> pd.DataFrame:
    """One line per comparison: task, row, A, B, A − B (formatted as the board formats them)."""
    first, second = names
    return pd.DataFrame(
        [
            {
                "task": c.task,
                "row": c.row,
                first: format_estimate(c.a),
                second: format_estimate(c.b),
                f"{first} − {second}": format_difference(c.difference),
            }
            for c in comparisons
        ],
        columns=["task", "row", first, second, f"{first} − {second}"],
    )
