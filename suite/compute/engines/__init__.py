"""Inference engines the latency measurement can time an exported model on, beside PyTorch.

Engines are plugins: `register_engine` adds one (an `Engine` subclass instance); `engines_for` checks
a list of names and says in one line which is unknown or cannot run here.
"""

from __future__ import annotations

from suite.compute.engines.base import Engine, EngineRun
from suite.compute.engines.deepsparse import DeepSparse
from suite.compute.engines.onnxruntime import OnnxRuntime
from suite.compute.engines.openvino import OpenVino
from suite.errors import SuiteError

TORCH = "torch"  # PyTorch eager: always timed by the harness itself, not an exported-model engine

_ENGINES: dict[str, Engine] = {}


def register_engine(engine: Engine) -> None:
    if engine.name in _ENGINES or engine.name == TORCH:
        raise ValueError(f"an engine named {engine.name!r} is registered already")
    _ENGINES[engine.name] = engine


def engine_names() -> list[str]:
    return [TORCH, *_ENGINES]


def engines_for(names: list[str] | tuple[str, ...]) -> list[Engine]:
    """The exported-model engines among `names` (`torch` is the harness's own timing and is dropped);
    one line for a name that is not an engine or one that cannot run on this machine."""
    chosen = []
    for name in dict.fromkeys(names):
        if name == TORCH:
            continue
        engine = _ENGINES.get(name)
        if engine is None:
            raise SuiteError(f"unknown engine {name!r}; known engines: {', '.join(engine_names())}")
        why = engine.missing()
        if why is not None:
            raise SuiteError(f"engine {name} cannot run here: {why}; install it with {engine.install}")
        chosen.append(engine)
    return chosen


for _engine in (OnnxRuntime(), OpenVino(), DeepSparse()):
    register_engine(_engine)

__all__ = ["TORCH", "Engine", "EngineRun", "engine_names", "engines_for", "register_engine"]
