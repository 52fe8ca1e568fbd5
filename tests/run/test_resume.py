"""Resuming a results folder: a cell counts as finished only while its predictions sidecar checks out."""

from __future__ import annotations

import pytest

from suite.cli import main
from suite.records.layout import cell_path, predictions_path
from suite.records.reader import read_record
from suite.records.validate import validate_results


@pytest.mark.integration
def test_a_cell_whose_sidecar_was_deleted_is_computed_again_and_the_folder_validates(
    capsys, tmp_path, glue_dir, monkeypatch
):
    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    run = ["run", "--preset", "smoke", "--tasks", "mrpc", "--methods", "dense", "--glue-dir", str(glue_dir)]
    run += ["--results-dir", str(results), "--max-train-samples", "16", "--max-eval-samples", "16", "--no-progress"]
    assert main(run) == 0, capsys.readouterr().err
    path = cell_path(results, "mrpc", "dense", 1.0, 0)
    old_hash = read_record(path)["config_hash"]
    predictions_path(path).unlink()
    capsys.readouterr()

    assert main([*run, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "compute  mrpc   dense        budget 1     seed 0\n" in out
    assert "1 to compute" in err and "0 finished (skipped)" in err

    assert main(run) == 0, capsys.readouterr().err
    record = read_record(path)
    assert record["status"] == "ok" and record["config_hash"] == old_hash
    assert predictions_path(path).is_file()
    assert path.with_name(f"{path.stem}.{old_hash}.json.superseded").is_file()  # the broken one, kept aside
    validation = validate_results(results)
    assert validation.ok, validation.problems
