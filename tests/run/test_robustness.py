"""Faults outside a cell do not stop the grid, names are not paths, bad input is one line.

Each test here failed before the change it guards (a traceback, a lost record, or silence)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from suite.api import MethodInfo, PruningMethod
from suite.cli import main
from suite.compute.data import read_tsv_split
from suite.errors import DataError, SuiteError
from suite.records.layout import cell_path
from suite.records.reader import read_record
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid
from suite.spec.tasks import get_task


class _Plain(PruningMethod):
    def prepare(self, model, ctx):
        return model

    def finalize(self, model, ctx):
        return model


def _info(name: str) -> MethodInfo:
    return MethodInfo(name=name, summary="test plugin", budgeted=False)


@pytest.fixture
def small_grid(tmp_path, glue_dir, smoke_preset):
    from dataclasses import replace

    preset = replace(smoke_preset, tasks=("mrpc",), max_train_samples=16, max_eval_samples=16, latency_batches=(1,))
    return Grid.build(preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False))


@pytest.mark.parametrize("name", ["../x", "/abs/path", "a/b", "Bad Name", ".hidden", "x..y", "", "-dash"])
def test_method_names_that_are_not_plain_folder_names_are_refused(isolated_registry, name):
    with pytest.raises(SuiteError, match="is not allowed: use 1-64 lower-case letters"):
        isolated_registry.register_method(_info(name))(_Plain)


def test_plain_names_register(isolated_registry):
    isolated_registry.register_method(_info("my-method_2.1"))(_Plain)
    assert "my-method_2.1" in isolated_registry.list_methods()


@pytest.mark.integration
def test_faults_outside_run_cell_become_failed_records_and_the_grid_goes_on(small_grid, isolated_registry):
    @isolated_registry.register_method(_info("t-init-raises"))
    class InitRaises(_Plain):
        def __init__(self, info, config=None):
            raise RuntimeError("boom in __init__")

    @isolated_registry.register_method(_info("t-unreachable-raises"))
    class UnreachableRaises(_Plain):
        def unreachable(self, model, reference, budget):
            raise ValueError("boom in unreachable")

    @isolated_registry.register_method(_info("t-exits"))
    class Exits(_Plain):
        def on_step_end(self, model, step, ctx):
            raise SystemExit(3)

    @dataclass(frozen=True)
    class PathConfig:
        where: Path = field(default_factory=lambda: Path("/tmp/somewhere"))

    @isolated_registry.register_method(_info("t-path-config"))
    class PathKnob(_Plain):
        Config = PathConfig

    names = ["t-init-raises", "t-unreachable-raises", "t-exits", "t-path-config", "dense"]
    summary = run_local(small_grid, expand_grid(small_grid.spec.preset, names))
    status = {r.method: r.status for r in summary.ran}
    assert status == {
        "t-init-raises": "failed",
        "t-unreachable-raises": "failed",
        "t-exits": "failed",
        "t-path-config": "ok",
        "dense": "ok",
    }
    records = {name: read_record(cell_path(small_grid.store.root, "mrpc", name, 1.0, 0)) for name in names}
    assert "boom in __init__" in records["t-init-raises"]["error"]
    assert "boom in unreachable" in records["t-unreachable-raises"]["error"]
    assert records["t-exits"]["error"].startswith("SystemExit")
    assert records["t-path-config"]["method_config"] == {"where": "/tmp/somewhere"}


def test_a_results_path_that_cannot_take_records_is_refused_before_training(tmp_path, glue_dir, smoke_preset):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    grid = Grid.build(smoke_preset, blocker, glue_dir, tmp_path / "cache", execution=Execution(progress=False))
    with pytest.raises(SuiteError, match="is a file; pass --results-dir with a folder"):
        run_local(grid, expand_grid(smoke_preset, ["dense"]))
    results = tmp_path / "results"
    cell_path(results, "sst2", "dense", 1.0, 0).mkdir(parents=True)
    grid = Grid.build(smoke_preset, results, glue_dir, tmp_path / "cache", execution=Execution(progress=False))
    with pytest.raises(SuiteError, match="is a folder where the cell's record goes"):
        run_local(grid, expand_grid(smoke_preset, ["dense"]))
    assert not (tmp_path / "cache" / "teachers").exists()  # nothing trained


@pytest.mark.integration
def test_a_rerun_with_another_configuration_keeps_the_old_record_aside(small_grid, tmp_path, glue_dir):
    cells = expand_grid(small_grid.spec.preset, ["dense"])
    run_local(small_grid, cells)
    path = cell_path(small_grid.store.root, "mrpc", "dense", 1.0, 0)
    old_hash = read_record(path)["config_hash"]
    from dataclasses import replace

    preset = replace(small_grid.spec.preset, max_train_samples=24)
    again = Grid.build(preset, small_grid.store.root, glue_dir, tmp_path / "cache", execution=Execution(progress=False))
    run_local(again, cells)
    assert read_record(path)["config_hash"] != old_hash
    kept = path.with_name(f"{path.stem}.{old_hash}.json.superseded")
    assert json.loads(kept.read_text())["config_hash"] == old_hash
    assert path.with_name(f"{path.stem}.{old_hash}.predictions.json.gz.superseded").exists()


def test_non_utf8_tsv_is_a_data_error_with_file_and_line(glue_dir, tmp_path):
    shutil.copytree(glue_dir / "SST-2", tmp_path / "SST-2")
    path = tmp_path / "SST-2" / "train.tsv"
    lines = path.read_bytes().split(b"\n")
    lines[4] = b"caf\xe9 au lait\t1"  # latin-1, not UTF-8
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"train.tsv, line 5: byte 0xe9 is not UTF-8"):
        read_tsv_split(get_task("sst2"), tmp_path, "train")


def test_a_nan_regression_label_is_a_data_error(glue_dir, tmp_path):
    shutil.copytree(glue_dir / "STS-B", tmp_path / "STS-B")
    path = tmp_path / "STS-B" / "dev.tsv"
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[2].rstrip("\n").split("\t")
    lines[2] = "\t".join([*fields[:-1], "nan"]) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(DataError, match=r"dev.tsv, line 3: label 'nan' is not a finite number"):
        read_tsv_split(get_task("stsb"), tmp_path, "validation")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "nan"], "error: run: argument --epochs: expected a finite number of epochs > 0"),
        (["--epochs", "inf"], "error: run: argument --epochs: expected a finite number of epochs > 0"),
        (["--learning-rate=-1e-4"], "error: run: argument --learning-rate: expected a finite number > 0"),
        (["--budgets", ","], "error: run: argument --budgets: expected at least one value"),
        (["--seeds", ""], "error: run: argument --seeds: expected at least one value"),
        (["--tasks", ""], "error: run: argument --tasks: expected at least one value"),
        (["--max-eval-samples", "1"], "error: --max-eval-samples must be at least 2"),
    ],
)
def test_input_checks_are_one_line_and_exit_2(capsys, tmp_path, argv, message):
    try:
        code = main(["run", "--preset", "smoke", "--results-dir", str(tmp_path / "r"), *argv])
    except SystemExit as exc:  # argparse's own checks exit from inside main
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.strip().startswith(message) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_bench_latency_budgets_are_checked(capsys):
    assert main(["bench", "latency", "--model", "tiny", "--budgets", "0,2"]) == 2
    assert "error: budget 0 is outside (0, 1]" in capsys.readouterr().err


@pytest.mark.integration
def test_a_cell_another_run_is_computing_is_left_to_it(small_grid):
    from filelock import FileLock

    cells = expand_grid(small_grid.spec.preset, ["dense"])
    small_grid.store.check_writable(cells)
    with FileLock(small_grid.store.lock(cells[0]).lock_file):  # as another process would hold it
        summary = run_local(small_grid, cells)
    assert summary.busy == cells and not summary.ran
    assert read_record(cell_path(small_grid.store.root, "mrpc", "dense", 1.0, 0)) is None
    assert run_local(small_grid, cells).count("ok") == 1  # the lock released: computed now


def test_changed_data_is_a_new_teacher_and_new_cells(tmp_path, glue_dir, smoke_preset):
    from dataclasses import replace

    from suite.registry import get_method

    preset = replace(smoke_preset, tasks=("sst2",))
    changed = tmp_path / "glue"
    shutil.copytree(glue_dir / "SST-2", changed / "SST-2")
    dev = changed / "SST-2" / "dev.tsv"
    lines = dev.read_text().splitlines(keepends=True)
    sentence, label = lines[1].rstrip("\n").split("\t")
    lines[1] = f"{sentence}\t{1 - int(label)}\n"  # one dev label differs, nothing else
    dev.write_text("".join(lines))
    cell = expand_grid(preset, ["ksp"])[0]
    configs = []
    for folder in (glue_dir, changed):
        grid = Grid.build(preset, tmp_path / "r", folder, tmp_path / "cache", execution=Execution(progress=False))
        grid.inputs.check([cell])
        configs.append(grid.identity.cell_config(cell, get_method("ksp")))
    assert configs[0]["teacher"] != configs[1]["teacher"]  # the cached teacher is not reused
    assert configs[0]["data"]["data_sha256"] != configs[1]["data"]["data_sha256"]


# This machine's tests may run as root, who writes into a chmod-ed read-only folder anyway: a folder
# that turned read-only, or a full disk, is injected as the OSError the filesystem would raise.
def _smoke_run_argv(results: Path, cache: Path, glue_dir: Path, *extra: str) -> list[str]:
    return [
        "run", "--preset", "smoke", "--methods", "dense", "--tasks", "mrpc", "--max-train-samples", "16",
        "--max-eval-samples", "16", "--glue-dir", str(glue_dir), "--results-dir", str(results),
        "--cache-dir", str(cache), "--no-progress", *extra,
    ]  # fmt: skip


def test_a_run_with_another_configuration_is_refused_while_another_run_writes_the_folder(
    small_grid, capsys, tmp_path, glue_dir
):
    from suite.records.provenance import config_hash
    from suite.run.grid import start

    # The first run, live in this process: started on the folder and computing its cell (claimed).
    plan, _ = start(small_grid, expand_grid(small_grid.spec.preset, ["dense"]))
    cell, _, config = plan.to_run[0]
    claim = small_grid.store.claim(cell, config_hash(config))
    try:
        code = main(_smoke_run_argv(small_grid.store.root, tmp_path / "cache", glue_dir, "--learning-rate", "5e-4"))
    finally:
        claim.release()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err[-1].startswith(f"error: results folder {small_grid.store.root} is being written by another run")
    assert "run_config.train.learning_rate is 0.001 there, 0.0005 here" in err[-1]
    assert read_record(cell_path(small_grid.store.root, "mrpc", "dense", 1.0, 0)) is None
    small_grid.store.close()  # the first run ends: its registration goes with it
    from suite.records.layout import runs_dir

    assert list(runs_dir(small_grid.store.root).iterdir()) == []


def test_a_full_disk_at_start_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path, glue_dir):
    import errno

    import suite.records.store as store_module

    def full(path, blob, mode=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store_module, "write_bytes_atomic", full)  # every file a record brings
    code = main(_smoke_run_argv(tmp_path / "results", tmp_path / "cache", glue_dir))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    trivial = cell_path(tmp_path / "results", "mrpc", "trivial", 1.0, 0)
    assert err[-1] == (
        f"error: results folder {tmp_path / 'results'}: {trivial} could not be written (No space left on device);"
        " free space or pass another --results-dir"
    )
    from suite.records.layout import runs_dir

    assert list(runs_dir(tmp_path / "results").iterdir()) == []  # the refused run is not left registered


@pytest.mark.integration
def test_a_results_folder_that_turns_read_only_mid_run_fails_the_next_cells_not_the_grid(small_grid, monkeypatch):
    import errno

    from filelock import FileLock

    import suite.records.store as store_module
    from suite.records.layout import Cell

    taken = []

    class ReadOnlyAfterTheFirstCell(FileLock):
        def acquire(self, *args, **kwargs):
            taken.append(self.lock_file)
            if len(taken) > 1:
                raise OSError(errno.EROFS, "Read-only file system", self.lock_file)
            return super().acquire(*args, **kwargs)

    monkeypatch.setattr(store_module, "FileLock", ReadOnlyAfterTheFirstCell)
    cells = [Cell("mrpc", "dense", 1.0, 0), Cell("mrpc", "dense", 1.0, 1)]
    summary = run_local(small_grid, cells)
    assert [r.status for r in summary.ran] == ["ok", "failed"]
    assert summary.ran[1].error.startswith("not run: the results folder takes no lock file (")
    assert summary.ran[1].error.endswith("budget1_seed1.lock: Read-only file system)")


def test_a_trivial_row_of_other_data_is_set_aside_not_overwritten(tmp_path, glue_dir, smoke_preset):
    from dataclasses import replace

    from suite.run.trivial import write_trivial_rows

    preset = replace(smoke_preset, tasks=("mrpc",))
    path = cell_path(tmp_path / "results", "mrpc", "trivial", 1.0, 0)
    hashes = []
    for train_samples in (32, 16):
        grid = Grid.build(
            replace(preset, max_train_samples=train_samples), tmp_path / "results", glue_dir, tmp_path / "cache"
        )
        assert len(write_trivial_rows(grid.identity, grid.store, ["mrpc"])) == 1
        hashes.append(read_record(path)["config_hash"])
    assert hashes[0] != hashes[1]
    kept = path.with_name(f"{path.stem}.{hashes[0]}.json.superseded")
    assert json.loads(kept.read_text())["config_hash"] == hashes[0]
    assert path.with_name(f"{path.stem}.{hashes[0]}.predictions.json.gz.superseded").exists()
