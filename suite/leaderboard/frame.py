"""Result records -> pandas frames: the fields the tables and plots use, and every field for the CSV."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

REFERENCE_BUDGET = 1.0
KEY_COLUMNS = ["task", "method", "budget", "seed", "status", "score"]
CELL_COLUMNS = [
    *KEY_COLUMNS,
    "fraction",
    "speedup",
    "latency_ms",
    "kernel",
    "params_nonzero",
    "params_total",
    "linear_compression",
]


def _get(record: dict[str, Any], *path: str) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def task_order(tasks: Iterable[str]) -> list[str]:
    """GLUE's own order (cola, sst2, mrpc, stsb, ...), unknown names last, alphabetically."""
    from suite.data import TASKS  # the task table; no torch behind it

    known = list(TASKS)
    return sorted(set(tasks), key=lambda t: (known.index(t) if t in known else len(known), t))


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per cell with the fields the tables and plots need; missing fields are NaN."""
    rows = [
        {
            "task": r["task"],
            "method": r["method"],
            "budget": float(r["budget"]),
            "seed": int(r["seed"]),
            "status": r.get("status", "failed"),
            "score": r.get("score"),
            "fraction": _get(r, "flops", "fraction"),
            # Batch 32 at the reference length: the reference (unpruned) model was timed beside it.
            "speedup": _get(r, "latency_ms", "speedup", "batch_32"),
            "latency_ms": _get(r, "latency_ms", "batch_32"),
            "kernel": _get(r, "latency_ms", "kernel"),
            "params_nonzero": _get(r, "params", "nonzero"),
            "params_total": _get(r, "params", "total"),
            "linear_compression": _get(r, "flops", "linear_compression"),
        }
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=CELL_COLUMNS)
    for column in ("score", "fraction", "speedup", "latency_ms", "params_nonzero", "params_total"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["linear_compression"] = pd.to_numeric(frame["linear_compression"], errors="coerce")
    return frame.sort_values(["task", "method", "budget", "seed"], kind="stable").reset_index(drop=True)


def cells_csv(records: Iterable[dict[str, Any]]) -> str:
    """Every field of every record, nested fields flattened with dots; stable row and column order."""
    flat = pd.json_normalize(list(records), sep=".")
    first = [c for c in KEY_COLUMNS if c in flat.columns]
    flat = flat[first + sorted(c for c in flat.columns if c not in first)]
    flat = flat.sort_values(["task", "method", "budget", "seed"], kind="stable")
    return flat.to_csv(index=False, lineterminator="\n")
