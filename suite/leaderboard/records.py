"""Result records with the path each came from: a record names its predictions sidecar relative to it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.records.layout import record_files

log = logging.getLogger(__name__)

# A JSON object with either of these is meant as a result record (and is checked as one); any other
# JSON file under a results folder (a model's config.json, say) is not a record and is passed over.
RECORD_KEYS = ("method", "task")


@dataclass(frozen=True)
class Cell:
    """One result record; `path` is None for records built in memory (they cannot name a sidecar)."""

    record: dict[str, Any]
    path: Path | None = None


def load_record(path: Path) -> dict[str, Any] | None:
    """The record in `path`; None (with one warning line) for a file that is not UTF-8 JSON, and None
    (silently) for JSON that is not a record. Read here rather than through `suite.results.read_record`
    so that an undecodable file is skipped, never a traceback, whatever that function does with it."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        log.warning("skipped %s: cannot be read (%s)", path, exc.strerror or exc)
        return None
    except UnicodeDecodeError as exc:
        log.warning("skipped %s: not UTF-8 text (byte %d), so not a result record", path, exc.start)
        return None
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("skipped %s: not valid JSON (%s), so not a result record", path, reason)
        return None
    if not isinstance(value, dict) or not any(key in value for key in RECORD_KEYS):
        return None
    return value


def read_cells(results_dir: Path) -> list[Cell]:
    """Every result record under `results_dir` with its path, in path order (as `read_records`)."""
    cells = []
    for path in record_files(results_dir):
        record = load_record(path)
        if record is not None:
            cells.append(Cell(record, path))
    return cells


def as_cells(items: Iterable[Cell | dict[str, Any]]) -> list[Cell]:
    return [item if isinstance(item, Cell) else Cell(item) for item in items]
