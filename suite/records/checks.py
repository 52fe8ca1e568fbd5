"""What one record must hold to be read as a result, and which of its settings must agree with other records'.

Each record must carry the fields a table is built from (task, method, a numeric budget and seed, a
numeric score or none). Records must come from one model and one configuration: records that differ in
any setting beyond the per-cell ones (which method, its config, budget, seed, lineage, teacher key) are
not comparable. Settings a record does not carry (legacy records have no `device` or `precision`, a
trivial-baseline row has no model and no training config) are unknown, not a conflict.

Every violation is one SuiteError naming the file and the field, with what to do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from suite.errors import SuiteError
from suite.records.reader import RecordFile
from suite.records.schema import ROLES
from suite.spec.splits import ABSENT_MEANS

# run_config keys that belong to one cell, not to the run: they may differ between records of one board.
PER_CELL = frozenset({"task", "seed", "method", "method_config", "budget", "lineage", "teacher", "rule"})
# Settings a preset may set per task (`task_epochs`; each task's data has its own hash): compared
# between records of one task only.
PER_TASK = frozenset(
    {
        "run_config.train.epochs",
        "run_config.data.data_sha256",
        "run_config.data.heldout_size",
        "run_config.data.heldout_sha256",
    }
)

FIX_RECORD = "rerun that cell (python -m suite run) or move the file out of the results folder"
FIX_MIX = (
    "a leaderboard compares one model and configuration: give each run its own --results-dir, or rerun"
    " the odd cells with the grid's settings"
)


class RecordError(SuiteError, ValueError):
    """A record, or a set of records, that cannot make one leaderboard (the CLI prints it as one line)."""


def where(item: RecordFile, index: int) -> str:
    """The record's file, or for one built in memory its position and cell."""
    if item.path is not None:
        return str(item.path)
    record = item.record
    return f"record {index} ({record.get('task')}/{record.get('method')} budget {record.get('budget')})"


def shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_record(item: RecordFile, index: int) -> None:
    """The fields every table reads: present and of the right kind."""
    record, name = item.record, where(item, index)

    def bad(field: str, expected: str) -> RecordError:
        if field not in record:
            return RecordError(f"{name}: no '{field}' field (expected {expected}); {FIX_RECORD}")
        return RecordError(f"{name}: '{field}' is {shown(record[field])}, expected {expected}; {FIX_RECORD}")

    for field in ("task", "method"):
        if not isinstance(record.get(field), str) or not record[field]:
            raise bad(field, "a name")
    budget = record.get("budget")
    if not _is_number(budget) or not math.isfinite(budget) or budget <= 0:
        raise bad("budget", "a number above 0, the FLOP budget")
    if not isinstance(record.get("seed"), Integral) or isinstance(record.get("seed"), bool):
        raise bad("seed", "a whole number")
    if record.get("score") is not None and not _is_number(record["score"]):
        raise bad("score", "a number or null")
    if record.get("status") is not None and not isinstance(record["status"], str):
        raise bad("status", "ok, over_budget or failed")
    if record.get("role") is not None and record["role"] not in ROLES:
        raise bad("role", " or ".join(ROLES))


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _flatten(value[key], f"{prefix}.{key}", out)
    else:
        out[prefix] = value


def identity(record: dict[str, Any]) -> dict[str, Any]:
    """The settings that must agree between records of one board, as dotted field names -> values."""
    out: dict[str, Any] = {}
    if record.get("model") is not None:  # a trivial-baseline record has no model
        out["model"] = record["model"]
    run_config = record.get("run_config")
    if isinstance(run_config, dict):
        _flatten({k: v for k, v in run_config.items() if k not in PER_CELL}, "run_config", out)
        if isinstance(run_config.get("data"), dict):  # no held-out keys: no held-out split, scored on dev
            for key, value in ABSENT_MEANS.items():
                out.setdefault(f"run_config.data.{key}", value)
    tuning = record.get("tuning")
    if isinstance(tuning, dict):
        # A tuned file sets each (task, method)'s learning rate: its own, not the board's. What must agree
        # instead is the file: two tunings never share a board.
        out.pop("run_config.train.learning_rate", None)
        out["tuning.sha256"] = tuning.get("sha256")
    return out


def _same(a: Any, b: Any) -> bool:
    return a == b or shown(a, limit=10**9) == shown(b, limit=10**9)  # NaN, say, equals itself here


Scope = tuple[str | None, str]  # (the task for a per-task setting, else None; the dotted field name)


def settings(record: dict[str, Any]) -> dict[Scope, Any]:
    """`identity` keyed by scope: per-task settings (PER_TASK) are compared between records of one task only."""
    task = record.get("task")
    return {(task if field in PER_TASK else None, field): value for field, value in identity(record).items()}


def differing(mine: dict[Scope, Any], theirs: dict[Scope, Any]) -> list[tuple[Scope, Any, Any]]:
    """(scope, their value, my value) for every setting both carry with different values, in scope order."""
    common = sorted(set(mine) & set(theirs), key=lambda scope: (scope[1], str(scope[0])))
    return [(scope, theirs[scope], mine[scope]) for scope in common if not _same(theirs[scope], mine[scope])]


@dataclass(frozen=True)
class Difference:
    field: str
    seen: Any  # the value an earlier record set
    value: Any  # this record's
    seen_at: int  # index of that earlier record


def difference(seen: dict[Scope, tuple[Any, int]], record: dict[str, Any]) -> Difference | None:
    """The first setting of `record` that differs from the value an earlier record `remember`ed."""
    for scope, value in settings(record).items():
        if scope in seen and not _same(seen[scope][0], value):
            return Difference(scope[1], seen[scope][0], value, seen[scope][1])
    return None


def remember(seen: dict[Scope, tuple[Any, int]], record: dict[str, Any], index: int) -> None:
    """Adds the settings `record` is the first to carry (a setting already seen keeps its first value)."""
    for scope, value in settings(record).items():
        seen.setdefault(scope, (value, index))
