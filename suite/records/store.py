"""The results folder as a store of cells."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from suite.records.atomic import _write_bytes_atomic, write_json_atomic
from suite.records.formats import Predictions
from suite.records.layout import predictions_path
from suite.records.schema import RunResult


def write_record(path: Path, result: RunResult, predictions: Predictions | None) -> None:
    """The predictions sidecar first, then the record that names it (both atomic), so a record never
    points at a missing or older sidecar; a record without predictions removes a stale one."""
    sidecar = predictions_path(path)
    if predictions is None:
        sidecar.unlink(missing_ok=True)
        result.predictions = None
    else:
        payload = json.dumps(asdict(predictions), sort_keys=True, separators=(",", ":")).encode()
        blob = gzip.compress(payload, mtime=0)  # mtime 0: the same predictions give the same bytes
        _write_bytes_atomic(sidecar, blob)
        result.predictions = {
            "file": sidecar.name,
            "n": len(predictions.predictions),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "split": predictions.split,
        }
    write_json_atomic(path, result.to_dict())
