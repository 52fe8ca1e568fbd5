"""Result records with the path each came from: a record names its predictions sidecar relative to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.results import read_record


@dataclass(frozen=True)
class Cell:
    """One result record; `path` is None for records built in memory (they cannot name a sidecar)."""

    record: dict[str, Any]
    path: Path | None = None


def read_cells(results_dir: Path) -> list[Cell]:
    """Every result record under `results_dir` with its path, in path order (as `read_records`)."""
    cells = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        record = read_record(path)
        if record is not None:
            cells.append(Cell(record, path))
    return cells


def as_cells(items: Iterable[Cell | dict[str, Any]]) -> list[Cell]:
    return [item if isinstance(item, Cell) else Cell(item) for item in items]
