"""Records from several results folders as one leaderboard: the first folder is the board's own, the
others are merged where they are comparable with it.

A leaderboard's statistics pair every row on the same dev examples and compare rows trained alike, so
a record from a later folder joins only if every setting it shares with the records taken so far is
equal: model, data (content hash, subsample sizes and seed, sequence length), training schedule,
device type, precision, FLOP sequence length (the settings `checks.identity` names). A record that
differs is refused with a one-line reason and the rest are merged. Within one folder nothing is
refused: the folder is one run, and a mix inside it stops the leaderboard as before.

A cell (task, method, budget, seed) found in several folders is taken from the first folder given
that holds it; the later copies are left out with a note (a copy with the same config hash is the
same cell computed twice, one with another hash is another configuration of that cell).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.records.checks import RecordError, Scope, check_record, difference, remember
from suite.records.layout import Cell
from suite.records.reader import NotAnObject, RecordFile, Unreadable, scan_records

log = logging.getLogger(__name__)


def _skipped(item: Unreadable) -> str:
    exc = item.error
    if isinstance(exc, OSError):
        return f"skipped {item.path}: cannot be read ({exc.strerror or exc})"
    if isinstance(exc, NotAnObject):
        return f"skipped {item.path}: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"skipped {item.path}: not UTF-8 text (byte {exc.start}), so not a result record"
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"skipped {item.path}: not valid JSON ({reason}), so not a result record"


def read_cells(results_dir: Path) -> list[RecordFile]:
    """Every result record under `results_dir` with its path, in path order; a file that is not UTF-8
    JSON is skipped with one warning line, never a traceback."""
    records, unreadable = scan_records(results_dir)
    for item in unreadable:
        log.warning("%s", _skipped(item))
    return records


@dataclass(frozen=True)
class Merged:
    cells: list[RecordFile]
    refused: list[str]  # one line per record left out, naming the file and why


def _refusal(
    cell: RecordFile, taken: list[RecordFile], by_key: dict[Cell, int], seen: dict[Scope, tuple[Any, int]]
) -> str | None:
    """Why `cell` (from a later folder) cannot join the cells taken so far, or None."""
    try:
        check_record(cell, len(taken))
    except RecordError as exc:
        return str(exc)
    record = cell.record
    if (kept := by_key.get(Cell.of_record(record))) is not None:
        first = taken[kept]
        if first.record.get("config_hash") == record.get("config_hash"):
            return f"{cell.path}: same cell and config hash as {first.path}; kept that one (the first folder given)"
        return (
            f"{cell.path}: same cell as {first.path} with another config hash ({record.get('config_hash')} vs"
            f" {first.record.get('config_hash')}); kept that one (the first folder given)"
        )
    found = difference(seen, record)
    if found is not None:
        return (
            f"{cell.path}: {found.field} is {found.value!r}, {taken[found.seen_at].path} has {found.seen!r};"
            " not comparable, left out"
        )
    return None


def merge_results(results_dirs: Sequence[Path]) -> Merged:
    """The cells of every folder, in folder order; see the module docstring for what is left out."""
    if not results_dirs:
        raise ValueError("no results folder given")
    taken = read_cells(results_dirs[0])
    by_key: dict[Cell, int] = {}
    seen: dict[Scope, tuple[Any, int]] = {}
    for i, cell in enumerate(taken):
        try:
            by_key.setdefault(Cell.of_record(cell.record), i)
        except (KeyError, TypeError, ValueError):  # the board's own checks name a malformed record
            continue
        remember(seen, cell.record, i)
    refused = []
    for folder in results_dirs[1:]:
        for cell in read_cells(folder):
            reason = _refusal(cell, taken, by_key, seen)
            if reason is not None:
                refused.append(reason)
                continue
            by_key[Cell.of_record(cell.record)] = len(taken)
            remember(seen, cell.record, len(taken))
            taken.append(cell)
    return Merged(taken, refused)
