"""What tuning each row had, read from the records' `tuning` field: the README's table and the note under
a budget's table whose rows were tuned unequally.

A record without `tuning` (or with None) ran with the preset's learning rate and the method's default
knobs. Unequal tuning biases a comparison (Blalock et al. 2020 on pruning benchmarks), so a table that
mixes it says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from suite.leaderboard.board import Board
from suite.leaderboard.rows import REFERENCE, Row
from suite.leaderboard.tables import table_rows
from suite.records.schema import REFERENCE_BUDGET, ROLE_METHOD, ROLE_TEACHER, ROLE_TRIVIAL, role_of

UNTUNED = "none"
UNTUNED_LINE = "No record was tuned: every row ran with the preset's learning rate and the method's default knobs."
INTRO = """\
Each row's knobs and learning rate were chosen per task by trials scored on a held-out part of the
training data (never trained on by any row), never on dev. `none`: the preset's learning rate and
the method's default knobs."""

# What makes two rows' tuning unequal: how many trials and from which file. The FLOP budget the trials
# ran at is not in it: the reference is tuned at budget 1 and a method at its own budget by design.
TuningKey = tuple[int, str] | None


def tuning_of(record: dict[str, Any]) -> dict[str, Any] | None:
    tuning = record.get("tuning")
    return tuning if isinstance(tuning, dict) else None


def tuning_key(record: dict[str, Any]) -> TuningKey:
    tuning = tuning_of(record)
    return None if tuning is None else (int(tuning.get("trials") or 0), str(tuning.get("file")))


def learning_rate(record: dict[str, Any]) -> Any:
    """The rate the cell trained with (a command-line override beats the tuned one, so not `chosen`)."""
    return ((record.get("run_config") or {}).get("train") or {}).get("learning_rate")


def format_rate(value: Any) -> str:
    """3.1e-4 rather than 0.00031: learning rates are read as mantissa and exponent."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if value == 0 or abs(value) >= 0.01:
        return f"{value:g}"
    mantissa, exponent = f"{value:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _distinct(values: Iterable[Any]) -> list[Any]:
    """Distinct values in first-seen order (callers pass them in a stable order)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _per_task(board: Board, records: list[dict[str, Any]], value: Callable[[dict[str, Any]], str | None]) -> str:
    """`sst2 3.1e-4, mrpc 2e-4`: each task's distinct values (several joined by `/`), `–` where none."""
    parts = []
    for task in board.tasks:
        shown = _distinct(v for r in records if r["task"] == task if (v := value(r)) is not None)
        if shown:
            parts.append(f"{task} {'/'.join(shown)}")
    return ", ".join(parts) or "–"


def _heldout(record: dict[str, Any]) -> str | None:
    score = (tuning_of(record) or {}).get("heldout_score")
    return f"{float(score):.2f}" if isinstance(score, (int, float)) else None


def _method_order(key: tuple[str, str]) -> tuple[bool, bool, str]:
    role, method = key
    return (not (role == ROLE_METHOD and method == REFERENCE.method), role != ROLE_TEACHER, method)


def _readme_rows(board: Board) -> list[dict[str, str]]:
    by_method: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in board.records:
        if role_of(record) != ROLE_TRIVIAL:  # the majority class has nothing to tune
            by_method.setdefault((role_of(record), str(record["method"])), []).append(record)
    ordered = sorted(by_method.items(), key=lambda item: _method_order(item[0]))
    rows = []
    for (role, method), records in ordered:
        records = sorted(records, key=lambda r: (float(r["budget"]), int(r["seed"])))
        tunings = [t for r in records if (t := tuning_of(r)) is not None]
        trials = [str(t.get("trials")) for t in tunings] + ([UNTUNED] if len(tunings) < len(records) else [])
        budgets = _distinct(f"{float(t['budget']):g}" for t in tunings if t.get("budget") is not None)
        rows.append(
            {
                "method": Row(role, method, REFERENCE_BUDGET).label(REFERENCE_BUDGET),
                "trials": ", ".join(_distinct(trials)),
                "tuned at budget": ", ".join(budgets) or "–",
                "tuned file": ", ".join(_distinct(f"`{t.get('file')}`" for t in tunings)) or "–",
                "learning rate": _per_task(board, records, _rate),
                "held-out score": _per_task(board, records, _heldout),
            }
        )
    return rows


def _rate(record: dict[str, Any]) -> str | None:
    value = learning_rate(record)
    return None if value is None else format_rate(value)


def _overridden(board: Board) -> str:
    """Rows where the command line replaced a tuned value: their rate or knob is not the tuned one."""
    named: dict[str, list[str]] = {}
    for record in board.records:
        for path in (tuning_of(record) or {}).get("overridden") or []:
            row = Row.of(record).label(REFERENCE_BUDGET)
            if str(path) not in named.setdefault(row, []):
                named[row].append(str(path))
    if not named:
        return ""
    listed = "; ".join(f"{row} ({', '.join(sorted(paths))})" for row, paths in sorted(named.items()))
    return f"Set on the command line instead of the tuned value: {listed}."


def tuning_section(board: Board) -> str:
    """The README's Tuning section body: one line when nothing was tuned, else the table per method."""
    if not any(tuning_of(r) for r in board.records):
        return UNTUNED_LINE
    table = pd.DataFrame(_readme_rows(board)).astype(str).to_markdown(index=False, disable_numparse=True)
    overridden = _overridden(board)
    return "\n".join([INTRO, "", table, *(["", overridden] if overridden else [])])


def _describe(key: TuningKey, with_file: bool, rows: int) -> str:
    if key is None:
        return "untuned (preset defaults)"
    trials, file = key
    return f"{trials} trials{' each' if rows > 1 else ''}" + (f" from `{file}`" if with_file else "")


def _signature(board: Board, row: Row) -> tuple[tuple[TuningKey, tuple[str, ...]], ...]:
    """The row's tuning keys, each with the tasks it holds on (a row may be tuned on some tasks only)."""
    mine = [r for r in board.records if Row.of(r) == row]
    per_task = {task: [tuning_key(r) for r in mine if r["task"] == task] for task in board.tasks}
    keys = _distinct(key for task in board.tasks for key in per_task[task])
    return tuple((key, tuple(t for t in board.tasks if key in per_task[t])) for key in keys)


def tuning_notes(board: Board, budget: float) -> list[str]:
    """One note naming which rows had which tuning, where this budget's rows were not all tuned alike."""
    signatures = {row: _signature(board, row) for row in table_rows(board, budget) if row.role != ROLE_TRIVIAL}
    keys = {key for signature in signatures.values() for key, _ in signature}
    if len(keys) <= 1:  # one key over every row and task: all tuned alike, or all untuned
        return []
    with_file = len({key[1] for key in keys if key is not None}) > 1
    groups: dict[tuple[tuple[TuningKey, tuple[str, ...]], ...], list[str]] = {}
    for row, signature in signatures.items():
        groups.setdefault(signature, []).append(row.label(budget))
    parts = []
    for signature, labels in groups.items():
        if len(signature) == 1:
            text = _describe(signature[0][0], with_file, len(labels))
        else:  # unlike per task: say which tasks had which
            text = ", ".join(f"{_describe(k, with_file, 1)} on {'/'.join(tasks)}" for k, tasks in signature)
        parts.append(f"{', '.join(labels)} {text}")
    return [
        f"Tuning differs between rows: {'; '.join(parts)}. Differences between them mix the method with its tuning."
    ]
