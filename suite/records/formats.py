"""The formats of the files beside a record: the predictions sidecar (gzip JSON) and the training curve (CSV)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Predictions:
    """Per-example outputs of one cell: class ids (or regression scores) and labels in dev-set order,
    for the split that gives the score; other eval splits (MNLI mismatched) under `other_splits`."""

    split: str
    predictions: list[float] | list[int]
    labels: list[float] | list[int]
    other_splits: dict[str, dict[str, list]] = field(default_factory=dict)


def read_predictions(record_path: Path, record: dict[str, Any]) -> Predictions:
    """The sidecar a record names, checked against the record's `n` and `sha256`."""
    meta = record.get("predictions") or {}
    if not meta.get("file"):
        raise FileNotFoundError(f"{record_path} has no predictions (the record predates per-example outputs)")
    sidecar = Path(record_path).parent / meta["file"]
    blob = sidecar.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise ValueError(f"{sidecar}: sha256 differs from its record's; rerun the cell or restore the file")
    data = json.loads(gzip.decompress(blob))
    loaded = Predictions(**data)
    if len(loaded.predictions) != meta.get("n") or len(loaded.labels) != meta.get("n"):
        raise ValueError(f"{sidecar}: {len(loaded.predictions)} predictions, its record says {meta.get('n')}")
    return loaded


FIRST_COLUMNS = ("step", "loss", "lr", "flop_fraction")


Row = dict[str, float]


def columns(rows: list[Row]) -> list[str]:
    """The fixed columns, then every loss term any row has, in order of appearance."""
    extra = dict.fromkeys(name for row in rows for name in row if name not in FIRST_COLUMNS)
    return [*FIRST_COLUMNS, *extra]


def to_csv(rows: list[Row]) -> str:
    """The rows as CSV text (a term missing from a row is an empty cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
