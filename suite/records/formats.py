"""The formats of the files beside a record: the predictions sidecar (gzip JSON) and the training curve (CSV)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from suite.errors import SuiteError

# A sidecar must reproduce its record's score; float noise between sklearn and numpy is ~1e-12.
SCORE_TOLERANCE = 1e-6


class PredictionsError(SuiteError, ValueError):
    """A sidecar does not match its record (the CLI prints it as one line)."""


@dataclass(frozen=True)
class Predictions:
    """Per-example outputs of one cell: class ids (or regression scores) and labels in dev-set order,
    for the split that gives the score; other eval splits (MNLI mismatched) under `other_splits`.
    The fields are the JSON lists the sidecar holds; `arrays` gives them as numpy arrays."""

    split: str | None
    predictions: list[float] | list[int]
    labels: list[float] | list[int]
    other_splits: dict[str, dict[str, list]] = field(default_factory=dict)

    @cached_property
    def _arrays(self) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
        out = {None: (np.asarray(self.predictions), np.asarray(self.labels))}
        for name, split in self.other_splits.items():
            out[str(name)] = (np.asarray(split["predictions"]), np.asarray(split["labels"]))
        return out

    def arrays(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, labels) of the scored split (None) or of another eval split, as numpy arrays
        (converted once)."""
        return self._arrays[split]


def has_predictions(record: dict[str, Any]) -> bool:
    return bool((record.get("predictions") or {}).get("file"))


def read_predictions(record_path: Path | None, record: dict[str, Any]) -> Predictions:
    """The sidecar a record names, checked against the record's `n`, `sha256` and `split`: a sidecar
    that is missing, altered or of the wrong length raises PredictionsError (the results folder no
    longer holds what its records describe). A record that names no sidecar raises FileNotFoundError."""
    meta = record.get("predictions") or {}
    if not meta.get("file"):
        raise FileNotFoundError(f"{record_path} has no predictions (the record predates per-example outputs)")
    where = f"{record.get('task')}/{record.get('method')} budget {record.get('budget')}"
    if record_path is None:
        raise PredictionsError(f"record {where} names predictions {meta.get('file')} but has no path to find them")
    record_path = Path(record_path)
    sidecar = record_path.parent / str(meta["file"])
    fix = f"rerun that cell (python -m suite run) or restore the file beside {record_path.name}"
    try:
        blob = sidecar.read_bytes()
    except OSError:
        raise PredictionsError(f"{sidecar}: predictions named by {record_path.name} are missing; {fix}") from None
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise PredictionsError(f"{sidecar}: sha256 differs from the one in {record_path.name}; {fix}")
    try:
        data = json.loads(gzip.decompress(blob))
        loaded = Predictions(data.get("split"), data["predictions"], data["labels"], data.get("other_splits") or {})
        predictions, labels = loaded.arrays()  # every split converted here: a malformed one fails now
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PredictionsError(f"{sidecar}: not a gzip JSON predictions file ({exc}); {fix}") from None
    n = meta.get("n")
    if predictions.ndim != 1 or predictions.shape != labels.shape or len(predictions) != n:
        raise PredictionsError(
            f"{sidecar}: {len(predictions)} predictions and {len(labels)} labels, {record_path.name} says n={n}; {fix}"
        )
    if meta.get("split") is not None and loaded.split is not None and loaded.split != meta["split"]:
        raise PredictionsError(f"{sidecar}: split {loaded.split!r}, {record_path.name} says {meta['split']!r}; {fix}")
    return loaded


FIRST_COLUMNS = ("step", "loss", "lr", "flop_fraction")


CurveRow = dict[str, float]


def columns(rows: list[CurveRow]) -> list[str]:
    """The fixed columns, then every loss term any row has, in order of appearance."""
    extra = dict.fromkeys(name for row in rows for name in row if name not in FIRST_COLUMNS)
    return [*FIRST_COLUMNS, *extra]


def to_csv(rows: list[CurveRow]) -> str:
    """The rows as CSV text (a term missing from a row is an empty cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
