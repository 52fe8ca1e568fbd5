"""A cell's time limit: the auto rule learned from this run's cells, the in-process alarm, and the Ray
progress line that names the running cells. Torch-free and seconds-fast; the end-to-end behaviour
(a hung cell recorded failed, the grid going on) is in test_cell_timeout.py."""

from __future__ import annotations

import signal
import time

import pytest

from suite.records.layout import Cell
from suite.records.schema import RunResult
from suite.run.executors.progress import running_description
from suite.run.time_limit import CellTimedOut, alarm_after, cell_limit_s
from suite.spec.cell_timeout import AUTO_FLOOR_S

CELL = Cell("mnli", "ksp", 0.5, 0)


def _done(task: str, wall_s: float | None, status: str = "ok") -> RunResult:
    result = RunResult("dense", task, 1.0, 0, status, "hash")
    result.wall_s = wall_s
    return result


def test_a_number_is_the_limit_and_off_is_none():
    assert cell_limit_s(12.5, [], CELL) == 12.5
    assert cell_limit_s("off", [_done("mnli", 1.0)], CELL) is None


def test_auto_is_ten_times_the_mean_of_the_tasks_finished_cells():
    finished = [_done("mnli", 3000.0), _done("mnli", 5000.0), _done("rte", 10.0)]
    assert cell_limit_s("auto", finished, CELL) == 40000.0  # rte's short cells do not count for mnli


def test_auto_has_no_limit_before_a_cell_of_the_task_finished_and_ignores_failed_ones():
    assert cell_limit_s("auto", [], CELL) is None
    assert cell_limit_s("auto", [_done("rte", 10.0)], CELL) is None
    # A cell that failed at once (or timed out) says nothing about how long the task's cells take.
    assert cell_limit_s("auto", [_done("mnli", 0.1, "failed"), _done("mnli", None)], CELL) is None
    assert cell_limit_s("auto", [_done("mnli", 0.1, "failed"), _done("mnli", 3000.0, "over_budget")], CELL) == 30000


def test_auto_never_goes_under_the_floor():
    assert cell_limit_s("auto", [_done("mnli", 1.0)], CELL) == AUTO_FLOOR_S


def test_the_alarm_stops_a_sleeping_block_and_puts_the_old_handler_back():
    before = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    with pytest.raises(CellTimedOut, match=r"^exceeded 0.2 s \(--cell-timeout 0.2\)$"):
        with alarm_after(0.2, 0.2):
            time.sleep(30)
    assert time.perf_counter() - start < 5
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_alarm_cannot_be_swallowed_by_except_exception():
    with pytest.raises(CellTimedOut):
        with alarm_after(0.2, "auto"):
            try:
                time.sleep(30)
            except Exception:  # what a careless method might do
                time.sleep(30)


def test_a_block_within_its_limit_is_left_alone():
    with alarm_after(5.0, 5.0):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.1)  # no stray alarm


def test_the_progress_line_names_running_cells_longest_first_with_their_seconds():
    line = running_description({"mrpc/dense/b1/s0": 20.4, "mrpc/ksp/b0.5/s0": 312.0}, queued=4, teachers=0)
    assert line == "cells (running 2: mrpc/ksp/b0.5/s0 312s, mrpc/dense/b1/s0 20s; queued 4)"
    assert running_description({}, queued=3, teachers=1) == "cells (running 0; queued 3; teachers training 1)"


def test_the_progress_line_stays_bounded():
    running = {f"qnli/{'m' * 64}-{i}/b0.5/s{i}": float(i) for i in range(50)}
    line = running_description(running, queued=100, teachers=2)
    assert len(line) < 140, line
    assert line.startswith("cells (running 50: qnli/mmm")
    assert line.endswith(", +49 more; queued 100; teachers training 2)")
    assert "49s" in line  # the longest-running cell comes first
