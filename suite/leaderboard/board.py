"""Everything a leaderboard shows, computed once from the records: per-cell scores with their bootstrap
draws, the signal check and the training-rule check of every task, and the estimates built on them.

Only verified scores count: an `ok` record's score is checked as `validate` checks it
(`validate_record.verify_score`: a finite number in its metric's range, reproduced by its predictions
sidecar). A record that fails is `not verified`: its score enters no mean, rank, difference or plot,
and the board lists it with the reason.

Tables, headline, CSV, plots and README all read this one object, so none of them can disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
from suite.records.formats import Predictions, PredictionsError
from suite.records.reader import RecordFile
from suite.records.schema import ROLE_METHOD, ROLE_TRIVIAL
from suite.records.validate_record import verify_score

# The board's status of an `ok` record whose score did not check out (never a record's own status).
NOT_VERIFIED = "not_verified"


@dataclass(frozen=True)
class CellScore:
    value: float
    draws: np.ndarray | None  # bootstrap draws of this seed's score; None without predictions


@dataclass(frozen=True)
class Unverified:
    """An `ok` record whose score did not check out, and why (one line per problem, naming its file)."""

    cell: RecordFile
    problems: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Board:
    cells: tuple[RecordFile, ...]
    frame: pd.DataFrame  # status `not_verified` (NOT_VERIFIED) for the `ok` records in `unverified`
    tasks: tuple[str, ...]
    scores: dict[tuple[str, Row, int], CellScore]  # (task, row, seed) of every `ok` cell with a score
    examples: dict[str, int]  # dev examples per task, where predictions were loaded
    signal: dict[str, SignalCheck]
    lineage: dict[str, LineageCheck]
    resamples: int
    unverified: tuple[Unverified, ...] = ()
    # sha256 of each task's dev labels (where predictions were loaded): two boards' draws pair only on
    # the same labels in the same order.
    label_digests: dict[str, str] = field(default_factory=dict)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [cell.record for cell in self.cells]

    def cell_score(self, record: dict[str, Any]) -> CellScore | None:
        """The verified score of this `ok` record, else None."""
        return self.scores.get((record["task"], Row.of(record), int(record["seed"])))

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
        seeds = sorted(per_seed)
        return seed_mean([per_seed[s].value for s in seeds], [per_seed[s].draws for s in seeds], seeds)

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
        return Estimate(float(np.mean(values)), tuple(values), mean_draws, tuple(seeds))

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


def _task_draws(
    task: str, cells: list[RecordFile], loaded: list[Predictions], resamples: int
) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    """Bootstrap draws of every verified cell (by position), all on one index matrix: every row of a
    task must be scored on the same dev labels."""
    from suite.spec.tasks import get_task  # the task table only; no torch behind it

    if not cells:
        return {}, None
    arrays = [item.arrays() for item in loaded]  # (predictions, labels)
    labels = arrays[0][1]
    for i, (_, own) in enumerate(arrays):
        if not np.array_equal(own, labels):
            raise PredictionsError(
                f"{task}: {cells[i].path} and {cells[0].path} hold different dev labels (another split or"
                " eval cap); rerun the odd cell with the grid's settings"
            )
    predictions = {i: pair[0] for i, pair in enumerate(arrays)}
    metric = get_task(task).primary_metric
    draws = bootstrap_draws(metric, labels, predictions, task_indices(task, len(labels), resamples))
    return draws, labels


def _verify(cells: list[RecordFile]) -> tuple[dict[int, Predictions], list[Unverified]]:
    """The predictions of every `ok` record whose score checks out (by position), and the others."""
    verified, unverified = {}, []
    for i, cell in enumerate(cells):
        if cell.record.get("status") != "ok":
            continue
        loaded, problems = verify_score(cell)
        if loaded is None:
            unverified.append(Unverified(cell, tuple(problems)))
        else:
            verified[i] = loaded
    return verified, unverified


def build_board(items: Iterable[RecordFile | dict[str, Any]], resamples: int = RESAMPLES) -> Board:
    """The board of these records (RecordFiles with paths, or plain record dicts, which cannot have
    sidecars and so are never verified)."""
    cells = [item if isinstance(item, RecordFile) else RecordFile(item) for item in items]
    check_cells(cells)  # fields, one record per cell, one model and configuration: else one clear error
    verified, unverified = _verify(cells)
    failing = {id(item.cell) for item in unverified}
    frame = records_frame({**c.record, "status": NOT_VERIFIED} if id(c) in failing else c.record for c in cells)
    if frame.empty:
        raise ValueError("no result records found")
    tasks = tuple(task_order(frame.task))
    scores: dict[tuple[str, Row, int], CellScore] = {}
    examples: dict[str, int] = {}
    digests: dict[str, str] = {}
    for task in tasks:
        mine = [i for i in sorted(verified) if cells[i].record["task"] == task]
        scored = [cells[i] for i in mine]
        draws, labels = _task_draws(task, scored, [verified[i] for i in mine], resamples)
        if labels is not None:
            examples[task] = len(labels)
            digests[task] = hashlib.sha256(np.ascontiguousarray(labels).tobytes()).hexdigest()
        for i, cell in enumerate(scored):
            key = (task, Row.of(cell.record), int(cell.record["seed"]))  # unique: check_cells refuses duplicates
            scores[key] = CellScore(float(cell.record["score"]), draws.get(i))
    kept = tuple(unverified)
    partial = Board(tuple(cells), frame, tasks, scores, examples, {}, {}, resamples, kept)
    signal = {}
    for task in tasks:
        trivial = partial.trivial_row(task)
        reference = partial.score(REFERENCE, task)
        signal[task] = check_signal(task, reference, partial.score(trivial, task) if trivial else None)
    lineage = {task: check_lineage(frame, task) for task in tasks}
    return Board(tuple(cells), frame, tasks, scores, examples, signal, lineage, resamples, kept, digests)


def ranked(board: Board, budget: float) -> list[tuple[Row, Estimate]]:
    """The method rows of `budget` that have a GLUE average, best first (ties by name)."""
    out = [
        (row, estimate)
        for row in board.rows()
        if row.role == ROLE_METHOD and row.budget == budget and (estimate := board.average(row)) is not None
    ]
    return sorted(out, key=lambda item: (-item[1].value, item[0].method))
