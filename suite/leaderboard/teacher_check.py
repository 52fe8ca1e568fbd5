"""Did each seed's teacher learn? Its dev score against the task's trivial baseline, seed by seed.

Methods that start from the (task, seed) teacher or distil from it inherit that teacher: where it
learned nothing the trivial baseline does not, their rows of that seed measure the teacher's failure
as much as the method. The board names such seeds (with the rows built on them) so a reader can weigh
them; it does not drop them, since which seed a teacher fails on is part of the training randomness
the seed spread reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.leaderboard.board import Board
from suite.leaderboard.bootstrap import Interval, percentile_interval, shown
from suite.records.schema import ROLE_METHOD, ROLE_TEACHER, role_of


@dataclass(frozen=True)
class TeacherCheck:
    task: str
    seed: int
    teacher: float
    trivial: float
    ci: Interval | None  # of teacher minus trivial, paired bootstrap on dev; None without predictions
    dependents: tuple[str, ...]  # the methods whose records of this (task, seed) name the teacher

    @property
    def weak(self) -> bool:
        """Not significantly above the trivial baseline (without predictions: not above it)."""
        return self.ci.low <= 0 if self.ci is not None else self.teacher <= self.trivial

    def note(self) -> str:
        difference = f"{shown(self.teacher - self.trivial, 1):+.1f}"
        tested = f"{difference}, 95% CI {self.ci.text(sep='..')}" if self.ci else f"{difference}, no CI"
        built = (
            f"; this seed's rows of the methods that start from it or distil from it ({', '.join(self.dependents)})"
            " inherit it"
            if self.dependents
            else ""
        )
        return (
            f"{self.task} seed {self.seed}: **weak teacher**: its score {self.teacher:.1f} is not"
            f" significantly above the trivial baseline's {self.trivial:.1f} ({tested}){built}."
        )


def weak_teachers(board: Board) -> list[TeacherCheck]:
    """Every (task, seed) whose teacher is not significantly above the task's trivial baseline."""
    return [check for check in teacher_checks(board) if check.weak]


def teacher_checks(board: Board) -> list[TeacherCheck]:
    """Every (task, seed) teacher with a score, where the task has a trivial baseline, checked against it."""
    found = []
    for task in board.tasks:
        trivial_row = board.trivial_row(task)
        trivial = board.score(trivial_row, task) if trivial_row else None
        if trivial is None:
            continue
        for row in (r for r in board.rows() if r.role == ROLE_TEACHER):
            for seed, cell in sorted(board.seeds(row, task).items()):
                ci = None
                if cell.draws is not None and trivial.draws is not None:
                    ci = percentile_interval(cell.draws - trivial.draws)
                dependents = sorted(
                    {
                        str(r["method"])
                        for r in board.records
                        if (r.get("task"), r.get("seed"), role_of(r)) == (task, seed, ROLE_METHOD) and r.get("teacher")
                    }
                )
                found.append(TeacherCheck(task, seed, cell.value, trivial.value, ci, tuple(dependents)))
    return found
