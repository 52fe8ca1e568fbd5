"""What a set of records must satisfy before it becomes one leaderboard.

Each record must carry the fields a table is built from (task, method, a numeric budget and seed, a
numeric score or none). Each cell (task, method, budget, seed) may have one record only: a second one
(a copied file, say) is not another seed. And every record must come from one model and one
configuration: records that differ in any setting beyond the per-cell ones (which method, its config,
budget, seed, lineage, teacher key) are not comparable, so the leaderboard refuses them rather than
averaging them into one row. Settings a record does not carry (legacy records have no `device` or
`precision`, a trivial-baseline row has no model and no training config) are unknown, not a conflict.

Every violation is one SuiteError naming the file(s) and the field, with what to do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from suite.errors import SuiteError
from suite.leaderboard.records import Cell
from suite.leaderboard.rows import ROLES

# run_config keys that belong to one cell, not to the run: they may differ between records of one board.
PER_CELL = frozenset({"task", "seed", "method", "method_config", "budget", "lineage", "teacher", "rule"})
# Settings a preset may set per task (`task_epochs`; each task's data has its own hash): compared
# between records of one task only.
PER_TASK = frozenset({"run_config.train.epochs", "run_config.data.data_sha256"})

FIX_RECORD = "rerun that cell (python -m suite run) or move the file out of the results folder"
FIX_MIX = (
    "a leaderboard compares one model and configuration: give each run its own --results-dir, or rerun"
    " the odd cells with the grid's settings"
)


class RecordError(SuiteError, ValueError):
    """A record, or a set of records, that cannot make one leaderboard (the CLI prints it as one line)."""


def where(cell: Cell, index: int) -> str:
    if cell.path is not None:
        return str(cell.path)
    record = cell.record
    return f"record {index} ({record.get('task')}/{record.get('method')} budget {record.get('budget')})"


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def check_record(cell: Cell, index: int) -> None:
    """The fields every table reads: present and of the right kind."""
    record, name = cell.record, where(cell, index)

    def bad(field: str, expected: str) -> RecordError:
        if field not in record:
            return RecordError(f"{name}: no '{field}' field (expected {expected}); {FIX_RECORD}")
        return RecordError(f"{name}: '{field}' is {_shown(record[field])}, expected {expected}; {FIX_RECORD}")

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


def check_duplicates(cells: Sequence[Cell]) -> None:
    """One record per (task, method, budget, seed): a second file for a cell is not another seed."""
    seen: dict[tuple[str, str, float, int], int] = {}
    for i, cell in enumerate(cells):
        r = cell.record
        key = (r["task"], r["method"], float(r["budget"]), int(r["seed"]))
        if key in seen:
            first = seen[key]
            raise RecordError(
                f"two records for {key[0]}/{key[1]} budget {key[2]:g} seed {key[3]}: {where(cells[first], first)}"
                f" and {where(cell, i)}; keep one (move or delete the other)"
            )
        seen[key] = i


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
    return out


def _same(a: Any, b: Any) -> bool:
    return a == b or _shown(a, limit=10**9) == _shown(b, limit=10**9)  # NaN, say, equals itself here


Scope = tuple[str | None, str]  # (the task for a per-task setting, else None; the dotted field name)


def settings(record: dict[str, Any]) -> dict[Scope, Any]:
    """`identity` keyed by scope: per-task settings (PER_TASK) are compared between records of one task only."""
    task = record.get("task")
    return {(task if field in PER_TASK else None, field): value for field, value in identity(record).items()}


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


def check_configs(cells: Sequence[Cell]) -> None:
    """Every setting any two records both carry is equal (per task for PER_TASK settings)."""
    seen: dict[Scope, tuple[Any, int]] = {}
    for i, cell in enumerate(cells):
        found = difference(seen, cell.record)
        if found is not None:
            first = cells[found.seen_at]
            raise RecordError(
                f"{where(first, found.seen_at)} and {where(cell, i)} differ in {found.field}"
                f" ({_shown(found.seen)} in the first, {_shown(found.value)} in the second); {FIX_MIX}"
            )
        remember(seen, cell.record, i)


def check_cells(cells: Sequence[Cell]) -> None:
    for i, cell in enumerate(cells):
        check_record(cell, i)
    check_duplicates(cells)
    check_configs(cells)
