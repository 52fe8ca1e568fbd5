"""The one reader of results folders: records by path or by walking a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from suite.records.layout import record_files


def _read_json(path: Path) -> Any:
    """Raises OSError or ValueError (bad JSON, or bytes that are not UTF-8) for an unreadable file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _is_record(data: Any) -> bool:
    return isinstance(data, dict) and "method" in data


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at `path`, or None where it is missing, unreadable or not a record: a damaged file
    must not stop a resume or a leaderboard."""
    try:
        data = _read_json(path)
    except (OSError, ValueError):
        return None
    return data if _is_record(data) else None


def read_records(results_dir: Path, skipped: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every result record under `results_dir`, in a stable order. Files that cannot be read or decoded
    are left out and, when `skipped` is given, appended to it so the caller can name them; JSON files
    that are simply not records (no `method`) are left out silently."""
    records = []
    for path in record_files(results_dir):
        try:
            data = _read_json(path)
        except (OSError, ValueError):
            if skipped is not None:
                skipped.append(path)
            continue
        if _is_record(data):
            records.append(data)
    return records
