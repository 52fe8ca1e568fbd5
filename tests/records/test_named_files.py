"""The files a record names (predictions sidecar, curve, saved model) are read only from inside its folder,
only when regular, and the sidecar only up to a size its `n` allows; a finished cell is one whose sidecar
checks out, and a broken one is computed again with the old files set aside."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suite.records.formats import PredictionsError, read_predictions, sidecar_bound
from suite.records.layout import Cell, NamedFileError, NamedFileMissing, file_beside, predictions_path
from suite.records.reader import read_record
from suite.records.schema import RunResult
from suite.records.store import CellFiles, ResultStore
from suite.records.validate_record import Entry, _check_named_files
from tests.builders.records import attach_predictions, make_record, record_path

LABELS = np.array([0, 1, 1])


def _record_with_sidecar(root: Path) -> tuple[Path, dict[str, Any]]:
    record = make_record("sst2", "m", 0.5, 0)
    path = record_path(root, record)
    attach_predictions(path, record, np.array([0, 1, 0]), LABELS)
    return path, record


def _name(record: dict[str, Any], name: str) -> None:
    record["predictions"]["file"] = name


def test_a_valid_sidecar_is_still_read(tmp_path):
    path, record = _record_with_sidecar(tmp_path)
    assert read_predictions(path, record).labels == [0, 1, 1]


@pytest.mark.parametrize("name", ["/etc/hostname", "../outside.json.gz", "sub/x.json.gz", "..", "."])
def test_a_name_that_is_not_a_file_beside_the_record_is_refused(tmp_path, name):
    path, record = _record_with_sidecar(tmp_path)
    _name(record, name)
    with pytest.raises(PredictionsError) as error:
        read_predictions(path, record)
    assert "\n" not in str(error.value)
    assert str(error.value).startswith(f"{path}: names the file {name!r}, not the name of a file beside it")
    assert "rerun that cell" in str(error.value)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    path, record = _record_with_sidecar(tmp_path / "results")
    outside = tmp_path / "outside.json.gz"
    predictions_path(path).rename(outside)  # the same bytes, so only where it lies is wrong
    predictions_path(path).symlink_to(outside)
    with pytest.raises(PredictionsError, match=r"leads outside the record's folder \(to .*outside.json.gz\)"):
        read_predictions(path, record)


def test_a_symlink_inside_the_folder_is_followed(tmp_path):
    path, record = _record_with_sidecar(tmp_path)
    kept = path.with_name("kept.gz")
    predictions_path(path).rename(kept)
    predictions_path(path).symlink_to(kept.name)
    assert read_predictions(path, record).labels == [0, 1, 1]


def test_a_device_or_fifo_is_refused_before_it_is_opened(tmp_path):
    path, record = _record_with_sidecar(tmp_path)
    sidecar = predictions_path(path)
    sidecar.unlink()
    os.mkfifo(sidecar)  # opening it to read would block until a writer came
    with pytest.raises(PredictionsError, match="is not a regular file"):
        read_predictions(path, record)
    sidecar.unlink()
    os.symlink("/dev/zero", sidecar)  # endless bytes: refused as outside the folder, never read
    with pytest.raises(PredictionsError, match="leads outside the record's folder"):
        read_predictions(path, record)


def test_a_gzip_bomb_is_refused_without_expanding_it(tmp_path):
    path, record = _record_with_sidecar(tmp_path)
    bomb = gzip.compress(b"0" * (50 << 20), compresslevel=9)  # 50 MB of zeros in ~50 KB
    predictions_path(path).write_bytes(bomb)
    record["predictions"]["sha256"] = hashlib.sha256(bomb).hexdigest()  # the bomb's own hash: it gets past that
    start = time.perf_counter()
    with pytest.raises(PredictionsError, match=f"decompresses to more than {sidecar_bound(3)} bytes"):
        read_predictions(path, record)
    assert time.perf_counter() - start < 2.0


def test_a_sidecar_larger_than_its_n_allows_is_not_read(tmp_path):
    path, record = _record_with_sidecar(tmp_path)
    with predictions_path(path).open("wb") as handle:
        handle.truncate(sidecar_bound(3) + 1)  # sparse: large on paper, nothing on disk
    with pytest.raises(PredictionsError, match=f"more than {sidecar_bound(3)} bytes, past what n=3"):
        read_predictions(path, record)
    record["predictions"]["n"] = 10**12
    with pytest.raises(PredictionsError, match="says n=1000000000000, not a count up to"):
        read_predictions(path, record)


def test_file_beside_checks_folders_and_names_what_is_missing(tmp_path):
    path = tmp_path / "budget0.5_seed0.json"
    model = tmp_path / "budget0.5_seed0.model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    assert file_beside(path, model.name, folder=True) == model
    (tmp_path / "plain.txt").write_text("")
    with pytest.raises(NamedFileError, match="is not a folder"):
        file_beside(path, "plain.txt", folder=True)
    (model / "weights").symlink_to("/etc/hostname")  # would be copied out by `export`
    with pytest.raises(NamedFileError, match="holds 'weights', which is not a regular file"):
        file_beside(path, model.name, folder=True)
    with pytest.raises(NamedFileMissing, match=r"named by budget0\.5_seed0\.json, is missing"):
        file_beside(path, "gone.csv")
    with pytest.raises(NamedFileError, match="not the name of a folder beside it"):
        file_beside(path, "/abs", folder=True)


def test_validate_names_a_curve_or_model_outside_the_folder(tmp_path):
    path, record = _record_with_sidecar(tmp_path)
    record["curve"] = {"file": "../../elsewhere.csv", "rows": 3}
    record["saved_model"] = {"path": "/tmp", "plain_transformers": True}
    entry = Entry(path, record)
    _check_named_files(entry)
    assert len(entry.problems) == 2
    assert "'../../elsewhere.csv', not the name of a file beside it (curve.file)" in entry.problems[0]
    assert "'/tmp', not the name of a folder beside it (saved_model.path)" in entry.problems[1]
    record["curve"] = {"file": predictions_path(path).name, "rows": 3}  # a regular file beside it
    record["saved_model"] = None
    entry = Entry(path, record)
    _check_named_files(entry)
    assert entry.problems == []


# ----- which cells are finished --------------------------------------------------------------------

CELL = Cell("sst2", "m", 0.5, 0)


def _finished_cell(root: Path) -> ResultStore:
    from suite.records.formats import Predictions

    store = ResultStore(root)
    result = RunResult(method="m", task="sst2", budget=0.5, seed=0, status="ok", config_hash="abc", score=50.0)
    store.write(CELL, result, CellFiles(predictions=Predictions("validation", [0, 1], [1, 1])))
    return store


def test_an_intact_record_is_finished(tmp_path):
    store = _finished_cell(tmp_path)
    assert store.finished(CELL, "abc")
    assert not store.finished(CELL, "another")


def test_a_record_whose_sidecar_is_deleted_or_tampered_is_not_finished(tmp_path):
    store = _finished_cell(tmp_path)
    sidecar = predictions_path(store.path(CELL))
    blob = sidecar.read_bytes()
    sidecar.unlink()
    assert not store.finished(CELL, "abc")
    data = json.loads(gzip.decompress(blob))
    data["predictions"][0] = 1
    sidecar.write_bytes(gzip.compress(json.dumps(data).encode()))
    assert not store.finished(CELL, "abc")
    sidecar.write_bytes(blob)
    assert store.finished(CELL, "abc")


def test_a_record_that_names_no_sidecar_is_not_finished(tmp_path):
    store = _finished_cell(tmp_path)
    path = store.path(CELL)
    record = read_record(path)
    record["predictions"] = None
    path.write_text(json.dumps(record))
    assert not store.finished(CELL, "abc")


def test_rewriting_a_cell_with_a_broken_sidecar_sets_the_old_files_aside(tmp_path):
    from suite.records.formats import Predictions

    store = _finished_cell(tmp_path)
    path = store.path(CELL)
    predictions_path(path).write_bytes(b"tampered")
    again = RunResult(method="m", task="sst2", budget=0.5, seed=0, status="ok", config_hash="abc", score=100.0)
    store.write(CELL, again, CellFiles(predictions=Predictions("validation", [1, 1], [1, 1])))
    assert store.finished(CELL, "abc") and read_record(path)["score"] == 100.0
    kept = path.with_name(f"{path.stem}.abc.json.superseded")
    assert json.loads(kept.read_text())["score"] == 50.0
    assert path.with_name(f"{path.stem}.abc.predictions.json.gz.superseded").read_bytes() == b"tampered"


def test_a_failed_record_is_overwritten_not_set_aside(tmp_path):
    store = ResultStore(tmp_path)
    failed = RunResult(method="m", task="sst2", budget=0.5, seed=0, status="failed", config_hash="abc", error="x")
    store.write(CELL, failed, None)
    store.write(CELL, RunResult(method="m", task="sst2", budget=0.5, seed=0, status="failed", config_hash="abc"), None)
    assert not list(tmp_path.rglob("*.superseded"))
