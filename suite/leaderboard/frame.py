"""Result records -> a pandas frame of the fields the tables and plots use, one row per cell."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from suite.leaderboard.engines import best_engine, engine_speedups
from suite.records.schema import get_field, role_of

SORT_KEYS = ["task", "method", "budget", "seed", "role"]
CELL_COLUMNS = [
    "task",
    "role",
    "method",
    "budget",
    "seed",
    "status",
    "score",
    "fraction",
    "speedup",
    "latency_ms",
    "kernel",
    "engine_speedup",
    "engine",
    "engine_speedups",
    "params_nonzero",
    "params_total",
    "linear_compression",
    "lineage_steps",
    "train_flops",
    "has_training",
]
NUMERIC = [
    "score",
    "fraction",
    "speedup",
    "latency_ms",
    "engine_speedup",
    "params_nonzero",
    "params_total",
    "linear_compression",
    "lineage_steps",
    "train_flops",
]


def task_order(tasks: Iterable[str]) -> list[str]:
    """GLUE's own order (cola, sst2, mrpc, stsb, ...), unknown names last, alphabetically."""
    from suite.spec.tasks import TASKS  # the task table; no torch behind it

    known = list(TASKS)
    return sorted(set(tasks), key=lambda t: (known.index(t) if t in known else len(known), t))


def training_flops(record: dict[str, Any]) -> float | None:
    """This cell's training compute plus its teacher's, where the cell learned from a teacher."""
    own = get_field(record, "training", "flops")
    if own is None:
        return None
    return float(own) + float(get_field(record, "training", "teacher_flops") or 0.0)


def _engine_fields(record: dict[str, Any]) -> dict[str, Any]:
    best = best_engine(record)
    return {
        "engine_speedup": best[1] if best else None,
        "engine": best[0] if best else None,
        "engine_speedups": engine_speedups(record),
    }


def records_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per cell with the fields the tables and plots need; missing fields are NaN.

    `engine_speedup` / `engine`: the cell's best batch-32 speedup on an exported-model engine and which
    engine and precision gave it (`openvino bf16`); `engine_speedups`: every usable one, by (engine,
    precision), `{}` where the record has none (see `engines`)."""
    rows = [
        {
            "task": r["task"],
            "role": role_of(r),
            "method": r["method"],
            "budget": float(r["budget"]),
            "seed": int(r["seed"]),
            "status": r.get("status", "failed"),
            "score": r.get("score"),
            "fraction": get_field(r, "flops", "fraction"),
            # Batch 32 at the reference length: the reference (unpruned) model was timed beside it.
            "speedup": get_field(r, "latency_ms", "speedup", "batch_32"),
            "latency_ms": get_field(r, "latency_ms", "batch_32"),
            "kernel": get_field(r, "latency_ms", "kernel"),
            **_engine_fields(r),
            "params_nonzero": get_field(r, "params", "nonzero"),
            "params_total": get_field(r, "params", "total"),
            "linear_compression": get_field(r, "flops", "linear_compression"),
            "lineage_steps": get_field(r, "training", "lineage_steps"),
            "train_flops": training_flops(r),
            "has_training": bool(r.get("training")),
        }
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=CELL_COLUMNS)
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.sort_values(SORT_KEYS, kind="stable").reset_index(drop=True)
