"""Per-budget tables: scores with 95% CIs and cost columns, and the differences to the reference and the best row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.leaderboard.board import NOT_VERIFIED, Board
from suite.leaderboard.engines import best_config, label, pooled
from suite.leaderboard.estimates import Estimate, format_difference, format_estimate
from suite.leaderboard.rows import REFERENCE, Row
from suite.leaderboard.signal_check import NO_SIGNAL
from suite.records.schema import REFERENCE_BUDGET, ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL

MISSING = "–"
AVERAGE = "average"


def table_budgets(board: Board) -> list[float]:
    budgets = sorted({b for b in board.frame.budget if b != REFERENCE_BUDGET}, reverse=True)
    return budgets or [REFERENCE_BUDGET]


def table_rows(board: Board, budget: float) -> list[Row]:
    """Reference rows first, then the teacher and the trivial baseline, then the budget's methods by average."""
    rows = board.rows()
    fixed = [r for r in rows if r.role == ROLE_METHOD and r.budget == REFERENCE_BUDGET and budget != REFERENCE_BUDGET]
    fixed.sort(key=lambda r: (not r.is_reference, r.method))
    fixed += [r for r in rows if r.role == ROLE_TEACHER] + [r for r in rows if r.role == ROLE_TRIVIAL]

    def by_average(row: Row) -> tuple:
        average = board.average(row)
        return (average is None, -average.value if average else 0.0, row.method)

    ranked = sorted((r for r in rows if r.role == ROLE_METHOD and r.budget == budget), key=by_average)
    return fixed + ranked


def status_marks(frame: pd.DataFrame) -> str:
    labels = {"failed": "failed", "over_budget": "over budget", NOT_VERIFIED: "not verified"}
    counts = [(int((frame.status == status).sum()), label) for status, label in labels.items()]
    return ", ".join(f"{n} {label}" for n, label in counts if n)


def _cells(board: Board, row: Row) -> pd.DataFrame:
    f = board.frame
    return f[(f.role == row.role) & (f.method == row.method) & (f.budget == row.budget)]


def _always(board: Board) -> bool:
    return True


@dataclass(frozen=True)
class CostColumn:
    """A per-row mean over every `ok` cell of the row (all tasks and seeds)."""

    name: str
    value: Callable[[Board, pd.DataFrame], pd.Series]
    digits: int
    unit: str = ""
    with_std: bool = False  # only where the spread says something (speedup is measured, FLOPs are set)
    lower_is_better: bool | None = None  # None: never bold (training compute is a cost, not a score)
    # Whether this board shows the column (one its records cannot fill would show only "–").
    shown: Callable[[Board], bool] = _always
    tag: Callable[[pd.DataFrame], str] | None = None  # said after the number: what it was measured on

    def text(self, board: Board, row: Row) -> tuple[str, float | None]:
        cells = _cells(board, row)
        ok = cells[cells.status == "ok"]
        values = self.value(board, ok).dropna()
        if not len(values):
            return MISSING, None
        mean = float(values.mean())
        text = f"{mean:.{self.digits}f}{self.unit}"
        if self.with_std and len(values) > 1:
            text += f" ± {float(np.std(values, ddof=1)):.{self.digits}f}"
        if self.tag is not None:
            text += f" {self.tag(ok)}"
        return text, round(mean, self.digits)


def relative_training_compute(board: Board, cells: pd.DataFrame) -> pd.Series:
    """Each cell's training compute (its own plus its teacher's) over the reference row's on that task."""
    f = board.frame
    reference = f[(f.role == ROLE_METHOD) & (f.method == REFERENCE.method) & (f.budget == REFERENCE.budget)]
    per_task = reference[reference.status == "ok"].groupby("task").train_flops.mean().dropna().to_dict()
    denominator = pd.to_numeric(cells.task.map(lambda task: per_task.get(task)), errors="coerce")
    return cells.train_flops / denominator


def has_training_compute(board: Board) -> bool:
    """Relative training compute needs the reference's; records before the training rule have none."""
    f = board.frame
    reference = f[(f.role == ROLE_METHOD) & (f.method == REFERENCE.method) & (f.budget == REFERENCE.budget)]
    return bool(reference.train_flops.notna().any())


def has_engine_figures(board: Board) -> bool:
    """Whether any `ok` cell was timed on an exported-model engine (records before engines were not)."""
    f = board.frame
    return bool(f[f.status == "ok"].engine_speedup.notna().any())


def row_engine_speedups(board: Board, cells: pd.DataFrame) -> pd.Series:
    """Each cell's batch-32 speedup on the row's best engine and precision (`engines.best_config` over
    the row's cells), NaN where that one was not timed."""
    best = best_config(pooled(cells.engine_speedups))
    if best is None:
        return pd.Series(dtype=float)
    return pd.Series([per_cell.get(best[0]) for per_cell in cells.engine_speedups], dtype=float)


def row_engine(cells: pd.DataFrame) -> str:
    best = best_config(pooled(cells.engine_speedups))
    return label(best[0]) if best else ""


SPEEDUP_COLUMN, ENGINE_COLUMN = "speedup (b32)", "engine speedup (b32)"
COST_COLUMNS = (
    CostColumn("FLOP fraction", lambda b, c: c.fraction, 3, lower_is_better=True),
    CostColumn(SPEEDUP_COLUMN, lambda b, c: c.speedup, 2, "x", with_std=True, lower_is_better=False),
    CostColumn(
        ENGINE_COLUMN,
        row_engine_speedups,
        2,
        "x",
        with_std=True,
        lower_is_better=False,
        shown=has_engine_figures,
        tag=row_engine,
    ),
    CostColumn("params (M, nonzero)", lambda b, c: c.params_nonzero / 1e6, 2, lower_is_better=True),
    CostColumn("train compute (× dense)", relative_training_compute, 2, shown=has_training_compute),
)


def cost_columns(board: Board) -> list[CostColumn]:
    return [c for c in COST_COLUMNS if c.shown(board)]


def task_header(board: Board, task: str) -> str:
    return f"{task} (no signal)" if board.signal[task].verdict == NO_SIGNAL else task


def _bold_if(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def budget_table(board: Board, budget: float) -> pd.DataFrame:
    """Task scores and the GLUE average (mean ± std over seeds, [95% CI]), then the cost columns.

    **Bold**: the best ranked row of this budget per column, on the shown rounding (ties all bold);
    reference, teacher and trivial rows are never bold, and neither is a task without signal.
    """
    rows = table_rows(board, budget)
    score_columns: list[tuple[str, str | None]] = [(task_header(board, t), t) for t in board.tasks]
    score_columns.append((AVERAGE, None))
    best: dict[str, str] = {}
    for name, task in score_columns:
        if task is not None and board.signal[task].verdict == NO_SIGNAL:
            continue  # no best where the reference itself is not above the trivial baseline
        if (row := board.best_row(budget, task)) is not None:
            best[name] = f"{board.estimate(row, task).value:.1f}"  # type: ignore[union-attr]
    costs = cost_columns(board)
    cost_best: dict[str, float] = {}
    for column in costs:
        values = [v for r in rows if r.ranked and r.budget == budget if (v := column.text(board, r)[1]) is not None]
        if values and column.lower_is_better is not None:
            cost_best[column.name] = min(values) if column.lower_is_better else max(values)

    table = []
    for row in rows:
        competes = row.ranked and row.budget == budget
        entry = {"method": row.label(budget)}
        cells = _cells(board, row)
        for name, task in score_columns:
            estimate = board.estimate(row, task)
            text = format_estimate(estimate) if estimate else ""
            text = _bold_if(text, bool(text) and competes and best.get(name) == f"{estimate.value:.1f}")  # type: ignore[union-attr]
            mark = status_marks(cells[cells.task == task]) if task is not None else ""
            if mark:
                text = f"{text} ({mark})" if text else mark
            entry[name] = text or MISSING
        for column in costs:
            text, value = column.text(board, row)
            entry[column.name] = _bold_if(text, competes and value is not None and cost_best.get(column.name) == value)
        table.append(entry)
    names = ["method", *(name for name, _ in score_columns), *(c.name for c in costs)]
    return pd.DataFrame(table, columns=names)


def _differences(board: Board, budget: float, to_best: bool) -> Iterator[tuple[Row, str, Estimate | str]]:
    """(row, column, its difference or what stands in its place) of every cell of a difference table."""
    columns: list[tuple[str, str | None]] = [(task_header(board, t), t) for t in board.tasks]
    columns.append((AVERAGE, None))
    for row in table_rows(board, budget):
        if row.is_reference and not to_best:
            continue
        for name, task in columns:
            other = board.best_row(budget, task) if to_best else REFERENCE
            mine, theirs = board.estimate(row, task), board.estimate(other, task) if other else None
            if row == other:
                yield row, name, "best"
            elif mine is None or theirs is None:
                yield row, name, MISSING
            else:
                yield row, name, mine.minus(theirs)


def difference_table(board: Board, budget: float, to_best: bool) -> pd.DataFrame:
    """Per task and for the average: each row minus the reference (or minus the budget's best row of
    that column), paired bootstrap 95% CI, † where the difference is called (`Estimate.called`: the CI
    excludes 0 and the seeds agree)."""
    entries: dict[Row, dict[str, str]] = {}
    for row, name, difference in _differences(board, budget, to_best):
        text = difference if isinstance(difference, str) else format_difference(difference)
        entries.setdefault(row, {"method": row.label(budget)})[name] = text
    columns = ["method", *(task_header(board, t) for t in board.tasks), AVERAGE]
    return pd.DataFrame(list(entries.values()), columns=columns)


def compared_differences(board: Board, budget: float) -> list[Estimate]:
    """Every difference the budget's two difference tables show (to the reference, to the best row)."""
    both = [d for to_best in (False, True) for _, _, d in _differences(board, budget, to_best)]
    return [d for d in both if isinstance(d, Estimate)]
