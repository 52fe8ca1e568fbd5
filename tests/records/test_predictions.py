"""Per-example predictions beside every record: deterministic bytes, checked on reading, never stale."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from suite.records.formats import Predictions, read_predictions
from suite.records.layout import predictions_path
from suite.records.reader import read_record
from suite.records.schema import RunResult
from suite.records.store import write_record
from suite.run.trivial import trivial_baseline
from suite.spec.tasks import get_task


def _result() -> RunResult:
    return RunResult(method="m", task="sst2", budget=0.5, seed=0, status="ok", config_hash="abc")


def test_sidecar_round_trip_and_identical_bytes(tmp_path):
    path = tmp_path / "sst2" / "m" / "budget0.5_seed0.json"
    predictions = Predictions("validation", [0, 1, 1], [0, 1, 0])
    write_record(path, _result(), predictions)
    blob = predictions_path(path).read_bytes()
    record = read_record(path)
    assert record["predictions"]["file"] == "budget0.5_seed0.predictions.json.gz" and record["predictions"]["n"] == 3
    assert read_predictions(path, record) == predictions
    write_record(path, _result(), predictions)
    assert predictions_path(path).read_bytes() == blob  # gzip without a timestamp
    assert json.loads(gzip.decompress(blob))["labels"] == [0, 1, 0]


def test_tampered_or_missing_sidecars_are_refused(tmp_path):
    path = tmp_path / "budget0.5_seed0.json"
    write_record(path, _result(), Predictions("validation", [0, 1], [1, 1]))
    record = read_record(path)
    predictions_path(path).write_bytes(
        gzip.compress(b'{"split": "validation", "predictions": [1, 1], "labels": [1, 1]}')
    )
    with pytest.raises(ValueError, match="sha256 differs"):
        read_predictions(path, record)
    with pytest.raises(FileNotFoundError, match="predates per-example outputs"):
        read_predictions(path, {"method": "m"})


def test_a_record_without_predictions_removes_a_stale_sidecar(tmp_path):
    path = tmp_path / "budget0.5_seed0.json"
    write_record(path, _result(), Predictions("validation", [0], [0]))
    failed = _result()
    failed.status = "failed"
    write_record(path, failed, None)
    assert not predictions_path(path).exists() and read_record(path)["predictions"] is None


def test_trivial_baseline_majority_class_and_constant():
    sst2 = trivial_baseline(get_task("sst2"), np.array([1, 0, 1, 1]), {"validation": np.array([0, 1, 1, 0])})
    assert sst2.value == 1 and sst2.metrics["accuracy"] == 50.0
    assert sst2.predictions["validation"].tolist() == [1, 1, 1, 1]
    tie = trivial_baseline(get_task("mrpc"), np.array([0, 1]), {"validation": np.array([1, 1])})
    assert tie.value == 0 and tie.metrics["f1"] == 0.0  # a tie takes the lowest class id
    stsb = trivial_baseline(get_task("stsb"), np.array([1.0, 2.0, 4.5]), {"validation": np.array([0.0, 5.0])})
    assert stsb.value == pytest.approx(2.5) and stsb.metrics == {"pearson": 0.0, "spearmanr": 0.0}
    assert "mean training label" in stsb.rule
