"""SIGTERM as Ctrl-C: a `run` stopped by a scheduler, `kill` or a container's shutdown cancels its
cells, keeps the finished ones and says so in one line, exactly as an interrupted one does."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TERMINATED_EXIT = 128 + signal.SIGTERM  # 143, what a shell reports for a process ended by SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so the executors' interrupt paths
    (cancel what runs, keep what finished, release the claims) run for it too."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, the first SIGTERM raises Terminated in the main thread; later ones are ignored
    while that unwinds (the clean-up is quick; SIGKILL still ends the process)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    raised = False

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except KeyboardInterrupt as exc:
        if raised and not isinstance(exc, Terminated):
            # Raised inside a native call, the exception can come back as a plain KeyboardInterrupt (Ray's
            # waits turn any into one): it was still the SIGTERM.
            raise Terminated from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
