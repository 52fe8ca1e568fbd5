"""A cell's time limit: how many seconds a cell may run under a run's setting, and, for cells that
run in this process, the alarm that stops one past it.

In-process the limit is a SIGALRM timer on the main thread whose handler raises `CellTimedOut`; the
cell runner turns it into a `failed` record and the grid goes on. A signal handler runs between two
Python bytecodes, so a training loop stuck in Python code, in `time.sleep` or on a lock is stopped
on time, but a hang inside one native call (a single torch op, a C extension) is only noticed when
that call returns. Where there is no SIGALRM (Windows) or the cells do not run on the main thread,
no alarm can be set and the limit is not enforced (a warning says so).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from suite.records.layout import Cell
from suite.records.schema import RunResult
from suite.spec.cell_timeout import AUTO, AUTO_FACTOR, AUTO_FLOOR_S, OFF, CellTimeout, describe, parse_cell_timeout

log = logging.getLogger("suite")


class CellTimedOut(BaseException):
    """Raised into a cell that ran past its limit. A BaseException, like KeyboardInterrupt, so that a
    method's or a library's `except Exception` cannot swallow it and carry on hanging."""

    def __init__(self, limit_s: float, setting: CellTimeout) -> None:
        super().__init__(limit_s, setting)
        self.limit_s, self.setting = limit_s, setting

    def __str__(self) -> str:
        return exceeded(self.limit_s, self.setting)


def exceeded(limit_s: float, setting: CellTimeout) -> str:
    """The failed record's reason."""
    return f"exceeded {limit_s:g} s (--cell-timeout {describe(setting)})"


def cell_limit_s(setting: CellTimeout, finished: Sequence[RunResult], cell: Cell) -> float | None:
    """Seconds `cell` may run under `setting`, from the cells this run has `finished`; None: no limit."""
    setting = parse_cell_timeout(setting)
    if setting == OFF:
        return None
    if setting != AUTO:
        return float(setting)
    # A failed cell's time says nothing of how long the task's cells take (it may have failed at once).
    times = [r.wall_s for r in finished if r.task == cell.task and r.status != "failed" and r.wall_s is not None]
    if not times:
        return None
    return float(math.ceil(max(AUTO_FLOOR_S, AUTO_FACTOR * sum(times) / len(times))))


@contextmanager
def alarm_after(limit_s: float | None, setting: CellTimeout) -> Iterator[None]:
    """Raise CellTimedOut in this (the main) thread once `limit_s` seconds have passed inside the block."""
    if limit_s is None:
        yield
        return
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        log.warning("the cell time limit (%g s) is not enforced: it needs SIGALRM on the main thread", limit_s)
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise CellTimedOut(limit_s, setting)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
