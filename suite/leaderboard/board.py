"""Everything a leaderboard shows, computed once from the records: per-cell scores with their bootstrap
draws, the signal check and the training-rule check of every task, and the estimates built on them.

Tables, headline, CSV, plots and README all read this one object, so none of them can disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from suite.leaderboard.bootstrap import RESAMPLES, bootstrap_draws, task_indices
from suite.leaderboard.checks import check_cells
from suite.leaderboard.estimates import Estimate, seed_mean
from suite.leaderboard.frame import records_frame, task_order
from suite.leaderboard.rows import REFERENCE, Row
from suite.leaderboard.signal_check import SignalCheck, check_signal
from suite.leaderboard.training_rule import LineageCheck, check_lineage
from suite.metrics.vectorized import metric_rows
from suite.records.formats import SCORE_TOLERANCE, PredictionsError, has_predictions, read_predictions
from suite.records.reader import RecordFile
from suite.records.schema import ROLE_METHOD, ROLE_TRIVIAL


@dataclass(frozen=True)
class CellScore:
    value: float
    draws: np.ndarray | None  # bootstrap draws of this seed's score; None without predictions


@dataclass(frozen=True, eq=False)
class Board:
    cells: tuple[RecordFile, ...]
    frame: pd.DataFrame
    tasks: tuple[str, ...]
    scores: dict[tuple[str, Row, int], CellScore]  # (task, row, seed) of every `ok` cell with a score
    examples: dict[str, int]  # dev examples per task, where predictions were loaded
    signal: dict[str, SignalCheck]
    lineage: dict[str, LineageCheck]
    resamples: int

    @property
    def records(self) -> list[dict[str, Any]]:
        return [cell.record for cell in self.cells]

    @property
    def average_tasks(self) -> tuple[str, ...]:
        """The tasks of the GLUE average: every task but those without signal."""
        return tuple(t for t in self.tasks if self.signal[t].in_average)

    @cached_property
    def _rows(self) -> tuple[Row, ...]:
        return tuple(sorted({Row(r.role, r.method, r.budget) for r in self.frame.itertuples()}))

    def rows(self) -> list[Row]:
        """Every row with a record (any status), in a stable order."""
        return list(self._rows)

    @cached_property
    def _by_cell(self) -> dict[tuple[str, Row], dict[int, CellScore]]:
        out: dict[tuple[str, Row], dict[int, CellScore]] = {}
        for (task, row, seed), score in self.scores.items():
            out.setdefault((task, row), {})[seed] = score
        return out

    def seeds(self, row: Row, task: str) -> dict[int, CellScore]:
        return dict(self._by_cell.get((task, row), {}))

    def score(self, row: Row, task: str) -> Estimate | None:
        """Mean over the row's `ok` seeds on `task`, with the seed-averaged bootstrap draws."""
        per_seed = self.seeds(row, task)
        if not per_seed:
            return None
        ordered = [per_seed[s] for s in sorted(per_seed)]
        return seed_mean([s.value for s in ordered], [s.draws for s in ordered])

    def average(self, row: Row, tasks: Sequence[str] | None = None) -> Estimate | None:
        """Per seed the mean over `tasks` (default: the average's), then the mean over seeds that have
        every task. The draws are averaged the same way, resample by resample, each task on its own
        index matrix, so the average's CI is paired with every other row's just as a task's is."""
        tasks = self.average_tasks if tasks is None else tuple(tasks)
        if not tasks:
            return None
        per_task = [self.seeds(row, t) for t in tasks]
        seeds = sorted(set.intersection(*(set(p) for p in per_task)))
        if not seeds:
            return None
        values = [float(np.mean([p[s].value for p in per_task])) for s in seeds]
        draws = [p[s].draws for p in per_task for s in seeds]
        mean_draws = np.mean(np.stack(draws), axis=0) if all(d is not None for d in draws) else None  # type: ignore[arg-type]
        return Estimate(float(np.mean(values)), tuple(values), mean_draws)

    def estimate(self, row: Row, task: str | None) -> Estimate | None:
        """A task's score, or the GLUE average where `task` is None."""
        return self.average(row) if task is None else self.score(row, task)

    def trivial_row(self, task: str) -> Row | None:
        rows = sorted({r for (t, r, _) in self.scores if t == task and r.role == ROLE_TRIVIAL})
        return rows[0] if rows else None

    def best_row(self, budget: float, task: str | None) -> Row | None:
        """The ranked row of `budget` with the highest score on `task` (None: the average)."""
        candidates = []
        for row in self.rows():
            if row.ranked and row.budget == budget and (estimate := self.estimate(row, task)) is not None:
                candidates.append((-estimate.value, row.method, row))
        return min(candidates)[2] if candidates else None


def _task_draws(task: str, cells: list[RecordFile], resamples: int) -> tuple[dict[int, np.ndarray], int | None]:
    """Bootstrap draws of every cell (by position) that has predictions; all on one index matrix."""
    from suite.spec.tasks import get_task  # the task table only; no torch behind it

    named = [i for i, cell in enumerate(cells) if has_predictions(cell.record)]
    if not named:
        return {}, None
    loaded = {i: read_predictions(cells[i].path, cells[i].record).arrays() for i in named}  # (predictions, labels)
    first = named[0]
    labels = loaded[first][1]
    for i in named:
        if not np.array_equal(loaded[i][1], labels):
            raise PredictionsError(
                f"{task}: {cells[i].path} and {cells[first].path} hold different dev labels (another split or"
                " eval cap); rerun the odd cell with the grid's settings"
            )
    metric = get_task(task).primary_metric
    for i in named:
        full = float(metric_rows(metric, loaded[i][0], labels)[0])
        recorded = float(cells[i].record["score"])
        if abs(full - recorded) > SCORE_TOLERANCE:
            raise PredictionsError(
                f"{cells[i].path}: its predictions score {full:.6f}, the record says {recorded:.6f}; rerun the cell"
            )
    predictions = {i: loaded[i][0] for i in named}
    draws = bootstrap_draws(metric, labels, predictions, task_indices(task, len(labels), resamples))
    return draws, len(labels)


def _is_scored(record: dict[str, Any]) -> bool:
    score = record.get("score")
    return record.get("status") == "ok" and isinstance(score, (int, float)) and np.isfinite(score)


def build_board(items: Iterable[RecordFile | dict[str, Any]], resamples: int = RESAMPLES) -> Board:
    """The board of these records (RecordFiles with paths, or plain record dicts, which cannot have sidecars)."""
    cells = [item if isinstance(item, RecordFile) else RecordFile(item) for item in items]
    check_cells(cells)  # fields, one record per cell, one model and configuration: else one clear error
    frame = records_frame(c.record for c in cells)
    if frame.empty:
        raise ValueError("no result records found")
    tasks = tuple(task_order(frame.task))
    scores: dict[tuple[str, Row, int], CellScore] = {}
    examples: dict[str, int] = {}
    for task in tasks:
        scored = [c for c in cells if c.record["task"] == task and _is_scored(c.record)]
        draws, n = _task_draws(task, scored, resamples)
        if n is not None:
            examples[task] = n
        for i, cell in enumerate(scored):
            key = (task, Row.of(cell.record), int(cell.record["seed"]))  # unique: check_cells refuses duplicates
            scores[key] = CellScore(float(cell.record["score"]), draws.get(i))
    partial = Board(tuple(cells), frame, tasks, scores, examples, {}, {}, resamples)
    signal = {}
    for task in tasks:
        trivial = partial.trivial_row(task)
        reference = partial.score(REFERENCE, task)
        signal[task] = check_signal(task, reference, partial.score(trivial, task) if trivial else None)
    lineage = {task: check_lineage(frame, task) for task in tasks}
    return Board(tuple(cells), frame, tasks, scores, examples, signal, lineage, resamples)


def ranked(board: Board, budget: float) -> list[tuple[Row, Estimate]]:
    """The method rows of `budget` that have a GLUE average, best first (ties by name)."""
    out = [
        (row, estimate)
        for row in board.rows()
        if row.role == ROLE_METHOD and row.budget == budget and (estimate := board.average(row)) is not None
    ]
    return sorted(out, key=lambda item: (-item[1].value, item[0].method))
