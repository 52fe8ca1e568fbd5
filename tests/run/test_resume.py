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


@pytest.mark.integration
def test_a_resume_where_auto_means_another_precision_stops_before_recomputing_finished_cells(
    capsys, tmp_path, glue_dir, monkeypatch
):
    """`auto` is bf16 on a CPU with native bf16 and fp32 elsewhere: resuming a folder of fp32 records on a
    bf16 machine stops in one line instead of computing every finished cell again; an explicit
    --precision is obeyed."""
    from suite.compute import device

    monkeypatch.setenv("PRUNE_SUITE_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    run = ["run", "--preset", "smoke", "--tasks", "mrpc", "--methods", "dense", "--glue-dir", str(glue_dir)]
    run += ["--results-dir", str(results), "--max-train-samples", "16", "--max-eval-samples", "16", "--no-progress"]
    assert main([*run, "--precision", "fp32"]) == 0, capsys.readouterr().err
    path = cell_path(results, "mrpc", "dense", 1.0, 0)
    record = path.read_bytes()
    capsys.readouterr()

    monkeypatch.setattr(device, "has_native_cpu_bf16", lambda: True)
    for argv in (run, [*run, "--dry-run"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "1 finished record(s) of these cells ran in fp32, but --precision auto means bf16" in err
        assert "pass --precision fp32 to keep them, or --precision bf16 to recompute them" in err
    assert path.read_bytes() == record and not list(path.parent.glob("*.superseded"))

    assert main([*run, "--precision", "fp32", "--dry-run"]) == 0
    assert "skip     mrpc   dense        budget 1     seed 0  finished (same config hash)" in capsys.readouterr().out
