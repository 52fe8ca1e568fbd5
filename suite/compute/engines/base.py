"""What an inference engine is to the latency measurement: it takes exported ONNX files, runs them at a
precision on pinned threads, and times them interleaved on the same inputs.

An engine that runs in this process only says how to load a file (`load`); one that must run
elsewhere (its own environment, a subprocess) overrides `measure` whole.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from suite.compute.engines.interleave import Run, time_interleaved


@dataclass(frozen=True)
class EngineRun:
    """One precision of one engine: timings per model and batch, logits on the first batch, settings."""

    timings: dict[str, dict[str, dict[str, float]]]  # model name -> batch key -> median, iqr, min, max, n
    logits: dict[str, np.ndarray]  # model name -> logits on the first batch of the inputs
    settings: dict[str, Any]  # what was set on the engine (threads, precision hint, ...), as recorded


class Engine(ABC):
    name: ClassVar[str]
    precisions: ClassVar[tuple[str, ...]]  # what it is timed in, in this order
    install: ClassVar[str]  # how to install it, for the one line a missing engine gives

    @abstractmethod
    def missing(self) -> str | None:
        """Why the engine cannot run here (one line), or None when it can."""

    @abstractmethod
    def version(self) -> str: ...

    def load(self, path: Path, precision: str, threads: int) -> tuple[Run, dict[str, Any]]:
        """An in-process engine's callable for one file (inputs -> logits) and the settings it used."""
        raise NotImplementedError(f"{self.name} runs out of process: it overrides measure")

    def measure(
        self,
        files: Mapping[str, Path],
        precision: str,
        inputs: Mapping[str, Mapping[str, np.ndarray]],
        warmup: int,
        repeats: int,
        threads: int,
        also: Mapping[str, Run] | None = None,
    ) -> EngineRun:
        """Time every file (and `also`, in-process callables such as PyTorch's reference) interleaved."""
        runs: dict[str, Run] = {}
        settings: dict[str, Any] = {}
        for name, path in files.items():
            runs[name], settings = self.load(path, precision, threads)
        first = next(iter(inputs.values()))
        logits = {name: np.asarray(runs[name](first)) for name in files}
        timings = time_interleaved({**runs, **(also or {})}, inputs, warmup, repeats)
        return EngineRun(timings, logits, settings)
