"""One builder of synthetic result records (and their predictions sidecars) for the tests that feed the
leaderboard and validate records made by hand rather than by a run."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from suite.records.atomic import write_json_atomic
from suite.records.layout import cell_path, predictions_path


def make_record(
    task: str, method: str, budget: float, seed: int, score: float | None = 80.0, *, status: str = "ok", **fields: Any
) -> dict[str, Any]:
    """The record of cell (task, method, budget, seed) with `status` and `score`, and `fields` set in
    order: a name like `run_config__train__epochs` sets that nested field of what is there already."""
    out: dict[str, Any] = {"method": method, "task": task, "budget": budget, "seed": seed, "status": status}
    out["score"] = score
    for dotted, value in fields.items():
        *parents, last = dotted.split("__")
        target = out
        for key in parents:
            target = target[key]
        target[last] = value
    return out


def record_path(root: Path, record: dict[str, Any]) -> Path:
    """Where `run` puts this record's file under the results folder `root`."""
    return cell_path(root, record["task"], record["method"], record["budget"], record["seed"])


def attach_predictions(path: Path, record: dict[str, Any], predictions: np.ndarray, labels: np.ndarray) -> None:
    """Write the sidecar of the record to be written at `path`, and name it in `record` (n, sha256, split)."""
    payload = {"split": "validation", "predictions": predictions.tolist(), "labels": labels.tolist()}
    blob = gzip.compress(json.dumps(payload).encode(), mtime=0)
    sidecar = predictions_path(path)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_bytes(blob)
    record["predictions"] = {
        "file": sidecar.name,
        "n": len(labels),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "split": "validation",
    }


def write_records(root: Path, records: list[dict[str, Any]]) -> dict[tuple[str, str, int], Path]:
    """Each record at its cell's path under `root`; (task, method, seed) -> its path."""
    paths = {}
    for record in records:
        path = record_path(root, record)
        write_json_atomic(path, record)
        paths[(record["task"], record["method"], record["seed"])] = path
    return paths


def dev_labels(task: str, n: int = 1000) -> np.ndarray:
    """Binary dev labels of `task`, the same for every record of it (the board pairs rows on them)."""
    return (np.random.default_rng(len(task)).random(n) < 0.5).astype(int)


def accurate_predictions(labels: np.ndarray, accuracy: float) -> np.ndarray:
    """Predictions of binary `labels` right on exactly `accuracy` percent of them."""
    wrong = round(len(labels) * (100.0 - accuracy) / 100.0)
    if abs(100.0 * (len(labels) - wrong) / len(labels) - accuracy) > 1e-9:
        raise ValueError(f"accuracy {accuracy} is not a whole count of {len(labels)} examples")
    out = labels.copy()
    out[:wrong] = 1 - out[:wrong]
    return out


def write_verified(root: Path, records: list[dict[str, Any]]) -> Path:
    """Each record at its cell's path under `root`, an `ok` one with a sidecar whose predictions give its
    score (tasks scored by accuracy: sst2, rte, ...); returns `root`."""
    for record in map(copy.deepcopy, records):  # the caller's records are left as they are
        path = record_path(root, record)
        if record["status"] == "ok":
            labels = dev_labels(record["task"])
            attach_predictions(path, record, accurate_predictions(labels, record["score"]), labels)
        write_json_atomic(path, record)
    return root
