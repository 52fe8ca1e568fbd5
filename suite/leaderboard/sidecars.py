"""A record's per-example predictions sidecar, loaded only after its size and hash check out.

A sidecar that is missing, altered or of the wrong length is an error, not a missing interval: it
means the results folder no longer holds what its records describe, and a leaderboard built from it
would present intervals for predictions nobody can reproduce.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from suite.errors import SuiteError
from suite.leaderboard.records import Cell


class PredictionsError(SuiteError, ValueError):
    """A sidecar does not match its record (the CLI prints it as one line)."""


@dataclass(frozen=True)
class Predictions:
    split: str | None
    predictions: np.ndarray
    labels: np.ndarray
    # The other eval splits (MNLI mismatched): split -> (predictions, labels).
    other_splits: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def has_predictions(cell: Cell) -> bool:
    return bool((cell.record.get("predictions") or {}).get("file"))


def load_predictions(cell: Cell) -> Predictions:
    """The sidecar `cell` names, checked against the record's `n`, `sha256` and `split`."""
    meta = cell.record.get("predictions") or {}
    where = f"{cell.record.get('task')}/{cell.record.get('method')} budget {cell.record.get('budget')}"
    if cell.path is None:
        raise PredictionsError(f"record {where} names predictions {meta.get('file')} but has no path to find them")
    sidecar = cell.path.parent / str(meta["file"])
    fix = f"rerun that cell (python -m suite run) or restore the file beside {cell.path.name}"
    try:
        blob = sidecar.read_bytes()
    except OSError:
        raise PredictionsError(f"{sidecar}: predictions named by {cell.path.name} are missing; {fix}") from None
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise PredictionsError(f"{sidecar}: sha256 differs from the one in {cell.path.name}; {fix}")
    try:
        data = json.loads(gzip.decompress(blob))
        predictions, labels = np.asarray(data["predictions"]), np.asarray(data["labels"])
        others = {
            str(name): (np.asarray(split["predictions"]), np.asarray(split["labels"]))
            for name, split in (data.get("other_splits") or {}).items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PredictionsError(f"{sidecar}: not a gzip JSON predictions file ({exc}); {fix}") from None
    n = meta.get("n")
    if predictions.ndim != 1 or predictions.shape != labels.shape or len(predictions) != n:
        raise PredictionsError(
            f"{sidecar}: {len(predictions)} predictions and {len(labels)} labels, {cell.path.name} says n={n}; {fix}"
        )
    split = data.get("split")
    if meta.get("split") is not None and split is not None and split != meta["split"]:
        raise PredictionsError(f"{sidecar}: split {split!r}, {cell.path.name} says {meta['split']!r}; {fix}")
    return Predictions(split, predictions, labels, others)
