"""A record's figures on exported-model engines (`latency_ms.engines`), read as untrusted input.

The harness times every finalized model exported to ONNX on other engines, each against the same
engine's unpruned model at the same precision: engine name -> {"version": str, precision -> {batch_1,
batch_32, spread, reference, speedup, max_abs_diff, settings} or {"error": one line}}. Engine and
precision names are open-ended (plugins add engines); every key of an engine but `version` is a
precision. Records from before engines have no such key, or `{}`.

Records may come from a submitted folder, so nothing here trusts a value: a speedup counts only where
it is a finite positive number, a name or version only where it is plain text (it ends up in markdown
tables, plot titles and the README); anything else is left out, never an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from suite.records.schema import get_field
from suite.records.validate_record import as_number

Config = tuple[str, str]  # (engine, precision)

# Plain text only: no `|`, backtick, newline or markup that could break a table or a code span.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
VERSION = "version"
ERROR = "error"
BATCH = "batch_32"  # the batch the board compares, as it does for PyTorch's speedup


def plain(value: Any) -> str | None:
    return value if isinstance(value, str) and _PLAIN.fullmatch(value) else None


def positive(value: Any) -> float | None:
    number = as_number(value)
    return number if number is not None and number > 0 else None


def label(config: Config) -> str:
    return f"{config[0]} {config[1]}"


def _engines(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Engine name -> its entry, for plainly named engines whose entry is a mapping."""
    found = get_field(record, "latency_ms", "engines")
    if not isinstance(found, dict):
        return {}
    return {name: entry for key, entry in found.items() if (name := plain(key)) and isinstance(entry, dict)}


def _precisions(record: dict[str, Any]) -> dict[Config, dict[str, Any]]:
    """(engine, precision) -> its figures, for every precision recorded as a mapping (an error included)."""
    out = {}
    for engine, entry in _engines(record).items():
        for key, figures in entry.items():
            if key != VERSION and (precision := plain(key)) and isinstance(figures, dict):
                out[(engine, precision)] = figures
    return out


def _used(record: dict[str, Any]) -> dict[Config, tuple[float, dict[str, Any]]]:
    """(engine, precision) -> its batch-32 speedup and figures, where it was timed without an error and
    that speedup is a usable number: the timings the board shows, and so the ones it describes."""
    out = {}
    for config, figures in _precisions(record).items():
        if ERROR not in figures and (value := positive(get_field(figures, "speedup", BATCH))) is not None:
            out[config] = (value, figures)
    return out


def engine_speedups(record: dict[str, Any]) -> dict[Config, float]:
    return {config: value for config, (value, _) in _used(record).items()}


def engine_errors(record: dict[str, Any]) -> list[Config]:
    """The (engine, precision) pairs that recorded that they failed on this record's model."""
    return [config for config, figures in _precisions(record).items() if ERROR in figures]


def engine_versions(record: dict[str, Any]) -> dict[str, str]:
    return {name: version for name, entry in _engines(record).items() if (version := plain(entry.get(VERSION)))}


def engine_settings(record: dict[str, Any]) -> dict[Config, str]:
    """(engine, precision) -> its settings as sorted JSON, where they are a mapping fit for a code span."""
    out = {}
    for config, (_, figures) in _used(record).items():
        settings = figures.get("settings")
        if isinstance(settings, dict) and "`" not in (text := json.dumps(settings, sort_keys=True)):
            out[config] = text
    return out


def engine_differences(record: dict[str, Any]) -> dict[Config, float]:
    """(engine, precision) -> largest |engine logit - PyTorch fp32 logit|. Zero is a valid difference,
    so here a finite non-negative number counts."""
    out = {}
    for config, (_, figures) in _used(record).items():
        value = as_number(figures.get("max_abs_diff"))
        if value is not None and value >= 0:
            out[config] = value
    return out


def best_config(speedups: Mapping[Config, Sequence[float]]) -> tuple[Config, list[float]] | None:
    """The (engine, precision) with the highest mean speedup, among those timed on the most cells (an
    engine that failed on some cells must not win on the mean of the few it ran); ties by name."""
    if not speedups:
        return None
    most = max(len(values) for values in speedups.values())
    if not most:
        return None
    candidates = [(-sum(v) / len(v), config, list(v)) for config, v in speedups.items() if len(v) == most]
    _, config, values = min(candidates)
    return config, values


def best_engine(record: dict[str, Any]) -> tuple[str, float] | None:
    """This record's best engine and precision (`openvino bf16`) and its batch-32 speedup."""
    best = best_config({config: [value] for config, value in engine_speedups(record).items()})
    return None if best is None else (label(best[0]), best[1][0])


def pooled(speedups: Iterable[Mapping[Config, float]], engine: str | None = None) -> dict[Config, list[float]]:
    """Several cells' speedups gathered per (engine, precision), for `best_config`; only `engine`'s
    precisions where one is named."""
    out: dict[Config, list[float]] = {}
    for per_cell in speedups:
        for config, value in per_cell.items():
            if engine is None or config[0] == engine:
                out.setdefault(config, []).append(value)
    return dict(sorted(out.items()))
