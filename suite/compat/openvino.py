"""OpenVINO 2026.4's CPU plugin leaves a dangling alternate signal stack behind.

Compiling a model, creating its infer request and running it (kernels for a new shape are compiled
then) install a small alternate signal stack (sigaltstack) on the compiling thread and
remembers the one before it; releasing the model puts that one back. Released in another order than
compiled (two models, the first freed first), the thread is left pointing at the freed stack of the
other, and the next signal Python handles there (SIGALRM of the cell time limit, SIGINT, SIGTERM:
CPython installs its handlers with SA_ONSTACK) runs on freed memory: a segmentation fault, found when a
cell time limit fired after an engine timing in the same process. `compiling_keeps_signal_stack` puts
the thread's stack back as it was right after each compile or inference, so whatever OpenVINO
restores later is a stack that was valid before it came. (In bf16 a released model does not even restore one: the
thread keeps pointing at the freed stack.)
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator


class _SignalStack(ctypes.Structure):  # stack_t of <signal.h>
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


def signal_stack() -> tuple[int, int, int]:
    """The calling thread's alternate signal stack: (address, flags, size); (0, SS_DISABLE, 0) for none."""
    current = _SignalStack()
    if _libc is None or _libc.sigaltstack(None, ctypes.byref(current)) != 0:
        return (0, 0, 0)
    return (current.ss_sp or 0, current.ss_flags, current.ss_size)


@contextlib.contextmanager
def compiling_keeps_signal_stack() -> Iterator[None]:
    """Run an OpenVINO compile or inference with the thread's alternate signal stack restored afterwards."""
    if _libc is None:
        yield
        return
    before = _SignalStack()
    _libc.sigaltstack(None, ctypes.byref(before))
    try:
        yield
    finally:
        _libc.sigaltstack(ctypes.byref(before), None)


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
