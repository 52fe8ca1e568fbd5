"""The one reader of results folders: what counts as a record, and records by path or by walking a folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.records.layout import record_files

# A JSON object with either of these is meant as a result record (and is checked as one, so a damaged
# record is named rather than passed over); any other JSON file under a results folder (a model's
# config.json, say) is not a record and is passed over.
RECORD_KEYS = ("method", "task")


def is_record(data: Any) -> bool:
    return isinstance(data, dict) and any(key in data for key in RECORD_KEYS)


class NotAnObject(ValueError):
    """A JSON file meant as a record whose top level is not one JSON object."""


def _misshapen(path: Path, data: Any) -> NotAnObject | None:
    """Why a JSON file that is not an object was still meant as a record: it has a record's file name
    (`budget<b>_seed<s>.json`), or it is a list holding records. Else None (not a result file)."""
    if isinstance(data, dict):
        return None
    kind = type(data).__name__ if not isinstance(data, list) else "list"
    if isinstance(data, list) and any(is_record(item) for item in data):
        return NotAnObject(f"a JSON {kind} of records, where a record file holds one JSON object")
    if path.name.startswith("budget") and "_seed" in path.name:
        return NotAnObject(f"a JSON {kind} under a record's file name, where a record is one JSON object")
    return None


@dataclass(frozen=True)
class RecordFile:
    """One result record and the file it was read from; `path` is None for a record built in memory
    (it cannot name a predictions sidecar, which lies beside its record)."""

    record: dict[str, Any]
    path: Path | None = None


@dataclass(frozen=True)
class Unreadable:
    """A JSON file of a results folder that could not be read or decoded, and why."""

    path: Path
    # OSError, UnicodeDecodeError, NotAnObject (a list of records, say), another ValueError (bad JSON) or
    # RecursionError (too deep)
    error: Exception


def _read_json(path: Path) -> Any:
    """Raises OSError, ValueError (bad JSON, or bytes that are not UTF-8) or RecursionError for an unreadable file."""
    return json.loads(Path(path).read_bytes().decode("utf-8"))


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at `path`, or None where it is missing, unreadable or not a record: a damaged file
    must not stop a resume or a leaderboard."""
    try:
        data = _read_json(path)
    except (OSError, ValueError, RecursionError):
        return None
    return data if is_record(data) else None


def scan_records(results_dir: Path) -> tuple[list[RecordFile], list[Unreadable]]:
    """Every record under `results_dir` with its path, and every JSON file that could not be read,
    both in path order. JSON files that are simply not records are in neither."""
    records, unreadable = [], []
    for path in record_files(results_dir):
        try:
            data = _read_json(path)
        except (OSError, ValueError, RecursionError) as exc:
            unreadable.append(Unreadable(path, exc))
            continue
        if (misshapen := _misshapen(path, data)) is not None:
            unreadable.append(Unreadable(path, misshapen))
        elif is_record(data):
            records.append(RecordFile(data, path))
    return records, unreadable


def read_records(results_dir: Path, skipped: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every result record under `results_dir`, in a stable order. Files that cannot be read or decoded
    are left out and, when `skipped` is given, appended to it so the caller can name them."""
    records, unreadable = scan_records(results_dir)
    if skipped is not None:
        skipped.extend(item.path for item in unreadable)
    return [item.record for item in records]
