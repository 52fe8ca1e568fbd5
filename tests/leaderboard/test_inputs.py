"""Bad input to the leaderboard: records that must not be mixed, unreadable or malformed files, an
output path that is a file; each is one clear SuiteError (or a one-line warning), never a traceback.
And the files it writes are readable as the umask allows."""

from __future__ import annotations

import copy
import logging
import os
import re
import shutil
import stat
from pathlib import Path

import pytest

from suite.errors import SuiteError
from suite.leaderboard import build_board, read_cells, write_leaderboard
from suite.records.atomic import write_json_atomic
from suite.records.checks import RecordError
from suite.records.layout import record_files
from tests.builders.records import make_record, write_records, write_verified

PUBLISHED_RESULTS = Path(__file__).resolve().parents[2] / "leaderboards" / "cpu" / "results"
TASKS = ("sst2", "rte")


def record(task: str, method: str, budget: float, seed: int, score: float = 80.0, **changes) -> dict:
    """A record as `run` writes it now (device, precision, data hash in its run_config)."""
    run_config = {
        "model": "minilm-l6",
        "task": task,
        "seed": seed,
        "method": method,
        "method_config": {"kind": method},
        "budget": budget,
        "train": {"epochs": 3 if task == "rte" else 2, "batch_size": 32, "learning_rate": 2e-4},
        "data": {"max_train_samples": 2000, "data_seed": 0, "data_sha256": f"hash-{task}"},
        "device": "cpu",
        "precision": "fp32",
        "flop_seq_len": 128,
        "lineage": {"own_steps": 10 if method == "dense" else 5},
        "pruning_schedule": {"warmup": 0.1, "cooldown": 0.2},
    }
    if method != "dense":
        run_config["teacher"] = f"teacher-{task}-{seed}"
    base = {"model": "minilm-l6", "flops": {"fraction": budget}, "run_config": run_config}
    return make_record(task, method, budget, seed, score, **{**base, **changes})  # changes: run_config__train__...


def trivial(task: str) -> dict:
    data = {"max_train_samples": 2000, "data_seed": 0, "data_sha256": f"hash-{task}"}
    run_config = {"data": data, "method": "trivial", "rule": f"majority class of {task}"}
    return make_record(task, "trivial", 1.0, 0, 50.0, role="trivial", model=None, run_config=run_config)


def grid() -> list[dict]:
    out = []
    for task in TASKS:
        out.append(trivial(task))
        for seed in (0, 1):
            out.append(record(task, "dense", 1.0, seed, 90.0 + seed))
            out.append(record(task, "ksp", 0.5, seed, 85.0 + seed))
    return out


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_consistent_grid_with_trivial_rows_and_per_task_settings_builds():
    # rte trains 3 epochs, sst2 2 (a preset's task_epochs), each task has its own data hash: not a mix.
    board = build_board(grid())
    assert board.tasks == ("sst2", "rte")


def test_legacy_records_beside_new_ones_build():
    legacy = record("sst2", "magnitude", 0.5, 0)
    for key in ("device", "precision", "pruning_schedule", "lineage"):
        del legacy["run_config"][key]
    del legacy["run_config"]["data"]["data_sha256"]
    build_board([*grid(), legacy])  # settings a record does not carry are unknown, not a conflict


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": "bert-base", "run_config__model": "bert-base"}, "model"),
        ({"run_config__train__learning_rate": 1e-4}, "run_config.train.learning_rate"),
        ({"run_config__train__epochs": 5}, "run_config.train.epochs"),  # same task: not a per-task schedule
        ({"run_config__data__data_sha256": "other"}, "run_config.data.data_sha256"),
        ({"run_config__data__max_train_samples": 500}, "run_config.data.max_train_samples"),
        ({"run_config__device": "cuda"}, "run_config.device"),
        ({"run_config__precision": "bf16"}, "run_config.precision"),
        ({"run_config__pruning_schedule": {"warmup": 0.0, "cooldown": 0.2}}, "run_config.pruning_schedule.warmup"),
    ],
)
def test_records_of_another_model_or_configuration_are_refused_naming_both_files(tmp_path, change, field):
    records = grid()
    records.append(record("rte", "magnitude", 0.5, 0, **change))
    paths = write_records(tmp_path / "results", records)
    with pytest.raises(RecordError) as error:
        write_leaderboard(tmp_path / "results", tmp_path / "board", plots=False)
    message = one_line(error)
    assert f"differ in {field} " in message
    assert str(paths[("rte", "magnitude", 0)]) in message
    assert str(tmp_path / "results" / "rte") in message.split(" and ")[0]  # the first rte record it read
    assert "--results-dir" in message
    assert not (tmp_path / "board").exists()  # nothing written


def test_a_setting_of_another_task_differs_only_where_it_is_per_task():
    records = grid()
    records.append(record("rte", "magnitude", 0.5, 0, run_config__train__batch_size=16))
    with pytest.raises(RecordError, match=r"run_config\.train\.batch_size"):
        build_board(records)


def test_a_trivial_row_on_other_data_is_refused():
    records = grid()
    records[0]["run_config"]["data"]["max_train_samples"] = 100  # sst2's trivial row
    with pytest.raises(RecordError, match=r"run_config\.data\.max_train_samples"):
        build_board(records)


@pytest.mark.parametrize("status", ["ok", "failed"])
def test_a_copied_record_is_refused_naming_both_files(tmp_path, status):
    records = grid()
    records[-1]["status"] = status
    paths = write_records(tmp_path / "results", records)
    original = paths[("rte", "ksp", 1)]
    duplicate = original.with_name(f"{original.stem} (copy).json")
    shutil.copyfile(original, duplicate)
    with pytest.raises(RecordError) as error:
        write_leaderboard(tmp_path / "results", tmp_path / "board", plots=False)
    message = one_line(error)
    assert message.startswith("two records for rte/ksp budget 0.5 seed 1: ")
    assert str(original) in message and str(duplicate) in message and "keep one" in message
    assert not (tmp_path / "board").exists()


def test_duplicates_in_memory_are_named_by_position():
    records = grid()
    with pytest.raises(RecordError, match=r"two records for sst2/dense budget 1 seed 0: record 1 .* record 10 "):
        build_board([*records, copy.deepcopy(records[1])])


def test_unreadable_json_files_are_skipped_with_one_warning_each(tmp_path, caplog):
    results = tmp_path / "results"
    write_records(results, grid())
    latin1 = results / "sst2" / "ksp" / "notes.json"
    latin1.write_bytes('{"method": "ksp", "task": "sst2", "note": "caf\xe9"}'.encode("latin-1"))
    truncated = results / "rte" / "ksp" / "budget0.25_seed0.json"
    truncated.write_text('{"method": "ksp", "task": ')
    not_a_record = results / "rte" / "config.json"
    not_a_record.write_text('{"hidden_size": 384}')  # valid JSON of something else: passed over quietly
    with caplog.at_level(logging.WARNING, logger="suite.leaderboard"):
        paths = write_leaderboard(results, tmp_path / "board", plots=False)
    assert [p.name for p in paths] == ["leaderboard.md", "cells.csv", "README.md"]
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert len(warnings) == 2 and all("\n" not in w for w in warnings)
    assert warnings[0].startswith(f"skipped {truncated}: not valid JSON")
    assert warnings[1].startswith(f"skipped {latin1}: not UTF-8 text")
    assert len(read_cells(results)) == len(grid())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget": "half"}, "'budget' is \"half\""),
        ({"budget": None}, "'budget' is null"),
        ({"budget": 0}, "'budget' is 0"),
        ({"seed": "0"}, "'seed' is \"0\""),
        ({"seed": 1.5}, "'seed' is 1.5"),
        ({"score": "85.0"}, "'score' is \"85.0\""),
        ({"score": True}, "'score' is true"),
        ({"role": "boss"}, "'role' is \"boss\""),
        ({"task": ""}, "'task' is \"\""),
    ],
)
def test_a_malformed_field_is_one_error_naming_file_and_field(tmp_path, change, field):
    records = grid()
    records[-1].update(change)
    results = tmp_path / "results"
    for r in records[:-1]:
        write_records(results, [r])
    bad = results / "rte" / "ksp" / "budget0.5_seed1.json"
    write_json_atomic(bad, records[-1])
    with pytest.raises(RecordError) as error:
        write_leaderboard(results, tmp_path / "board", plots=False)
    message = one_line(error)
    assert message.startswith(f"{bad}: {field}, expected ")
    assert not (tmp_path / "board").exists()


@pytest.mark.parametrize("missing", ["task", "budget", "seed"])
def test_a_missing_field_is_one_error_naming_file_and_field(tmp_path, missing):
    results = tmp_path / "results"
    paths = write_records(results, grid())
    bad = paths[("sst2", "ksp", 0)]
    broken = record("sst2", "ksp", 0.5, 0)
    del broken[missing]
    write_json_atomic(bad, broken)
    with pytest.raises(RecordError) as error:
        write_leaderboard(results, tmp_path / "board", plots=False)
    assert one_line(error).startswith(f"{bad}: no '{missing}' field")


def test_out_naming_an_existing_file_is_refused_before_anything_is_written(tmp_path):
    write_records(tmp_path / "results", grid())
    out = tmp_path / "board.md"
    out.write_text("mine\n")
    with pytest.raises(SuiteError) as error:
        write_leaderboard(tmp_path / "results", out, plots=False)
    assert "is an existing file, not a folder" in one_line(error) and str(out) in str(error.value)
    assert out.read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["board.md", "results"]


def test_out_below_a_file_is_one_error(tmp_path):
    write_records(tmp_path / "results", grid())
    (tmp_path / "file").write_text("")
    with pytest.raises(SuiteError, match="cannot create the output folder"):
        write_leaderboard(tmp_path / "results", tmp_path / "file" / "board", plots=False)


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_written_files_are_readable_as_the_umask_allows(tmp_path, umask_022):
    write_verified(tmp_path / "results", grid())  # verified scores: plots to write too
    paths = write_leaderboard(tmp_path / "results", tmp_path / "board", resamples=20)
    assert {p.suffix for p in paths} == {".md", ".csv", ".png"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths} == {p.name: 0o644 for p in paths}
    os.umask(0o077)
    paths = write_leaderboard(tmp_path / "results", tmp_path / "board", plots=False)
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o600}


def test_cli_prints_one_error_line_for_a_mix(capsys, tmp_path):
    from suite.cli import main

    records = grid()
    records.append(record("sst2", "magnitude", 0.5, 0, run_config__precision="bf16"))
    write_records(tmp_path / "results", records)
    code = main(["leaderboard", "--results-dir", str(tmp_path / "results"), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "run_config.precision" in err


@pytest.mark.skipif(not PUBLISHED_RESULTS.is_dir(), reason="no published CPU leaderboard")
def test_published_results_with_a_copied_record_are_refused(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(PUBLISHED_RESULTS, results)
    build_board(read_cells(results))  # the committed board's records form one configuration
    original = min(record_files(results))  # whichever record the committed grid holds first
    task, method = original.parent.parent.name, original.parent.name
    budget, seed = original.stem.removeprefix("budget").split("_seed")
    shutil.copyfile(original, original.with_name(f"{original.stem} (copy).json"))
    cell = re.escape(f"two records for {task}/{method} budget {budget} seed {seed}: ")
    with pytest.raises(RecordError, match=cell + r".*\(copy\)\.json and "):
        build_board(read_cells(results))
