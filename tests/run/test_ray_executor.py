"""The Ray executor on a local Ray cluster (two CPUs): same cells and records as in-process, teachers
trained once, workers that die retried, failures recorded, the driver the only writer."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.integration

from suite.cli import main  # noqa: E402
from suite.records.layout import log_path, teacher_log_path  # noqa: E402
from suite.records.reader import read_records  # noqa: E402
from suite.registry import load_plugins  # noqa: E402
from suite.run.executors.local import run_local  # noqa: E402
from suite.run.executors.ray_driver import RayOptions, run_on_ray  # noqa: E402
from suite.run.executors.ray_worker import spec_for  # noqa: E402
from suite.run.grid import Grid  # noqa: E402
from suite.run.identity import Execution  # noqa: E402
from suite.run.plan import expand_grid, plan_grid  # noqa: E402

# Cells that kill their own worker: the first attempt of `t-dies-once` (a marker file remembers it),
# every attempt of `t-always-dies`; `t-raises` raises in prepare; `t-hangs` never finishes.
PLUGIN = textwrap.dedent(
    """
    import os
    import signal
    import time
    from pathlib import Path

    from suite.api import MethodInfo, PruningMethod
    from suite.registry import register_method

    MARKER = Path(__file__).with_name("died-once")


    class Base(PruningMethod):
        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model


    @register_method(MethodInfo(name="t-dies-once", summary="its first worker is killed mid-cell", budgeted=False))
    class DiesOnce(Base):
        def prepare(self, model, ctx):
            if not MARKER.exists():
                MARKER.write_text("killed")
                os.kill(os.getpid(), signal.SIGKILL)
            return model


    @register_method(MethodInfo(name="t-always-dies", summary="every worker running it is killed"))
    class AlwaysDies(Base):
        def prepare(self, model, ctx):
            os.kill(os.getpid(), signal.SIGKILL)


    @register_method(MethodInfo(name="t-raises", summary="raises in prepare"))
    class Raises(Base):
        def prepare(self, model, ctx):
            raise RuntimeError("boom on a worker")


    @register_method(MethodInfo(name="t-hangs", summary="hangs in prepare", budgeted=False))
    class Hangs(Base):
        def prepare(self, model, ctx):
            time.sleep(3600)
    """
)


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module (starting one takes seconds); the executor uses it as is."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture
def plugin(tmp_path) -> str:
    path = tmp_path / "ray_plugin.py"
    path.write_text(PLUGIN)
    load_plugins([str(path)])
    return str(path)


def _harness(tmp_path: Path, preset, glue_dir) -> Grid:
    return Grid.build(preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False))


def _run(grid: Grid, cells, plugins=(), max_retries: int = 2):
    spec = spec_for(grid, tuple(plugins), threads=1, device="cpu")
    return run_on_ray(grid, cells, RayOptions(max_retries=max_retries), spec)


def test_the_smoke_grid_on_ray_matches_in_process_and_trains_each_teacher_once(
    cluster, tmp_path, glue_dir, smoke_preset
):
    grid = _harness(tmp_path, smoke_preset, glue_dir)
    cells = expand_grid(smoke_preset, ["dense", "ksp", "heads", "random", "teacher"])
    summary = _run(grid, cells)
    assert summary.count("ok") == len(cells) and not summary.skipped
    # ksp distils from the teacher, heads starts from it, `teacher` reports it: one training each task.
    assert sorted(summary.teachers_trained) == [("mrpc", 0), ("sst2", 0)]
    for task in ("sst2", "mrpc"):
        assert "training teacher" in teacher_log_path(grid.store.root, task, 0).read_text()
        assert grid.teachers.cache.load(grid.identity.teacher_key(task, 0)) is not None  # in the driver's cache
    for cell in cells:
        cell_log = log_path(grid.store.root, cell).read_text()
        assert f"cell {cell.label} on " in cell_log and "training teacher" not in cell_log
    records = {(r["task"], r["method"]): r for r in read_records(grid.store.root) if r["role"] != "trivial"}
    assert {r["executor"]["name"] for r in records.values()} == {"ray"}
    # The in-process executor skips every cell Ray finished: same config hashes.
    again = _harness(tmp_path, smoke_preset, glue_dir)
    second = run_local(again, cells)
    assert not second.ran and len(second.skipped) == len(cells)
    # A cell computed in-process has the same fields, the same hash and, on the same data, the same score.
    local = _harness(tmp_path / "local", smoke_preset, glue_dir)
    run_local(local, [c for c in cells if c.method == "ksp" and c.task == "mrpc"])
    (mine,) = [r for r in read_records(local.store.root) if r["method"] == "ksp"]
    theirs = records[("mrpc", "ksp")]
    assert set(mine) == set(theirs) and mine["config_hash"] == theirs["config_hash"]
    assert mine["executor"]["name"] == "local" and mine["teacher"] == theirs["teacher"]
    assert mine["score"] == pytest.approx(theirs["score"], abs=5.0)  # thread counts differ: near, not bitwise


def test_curves_and_saved_models_travel_back_to_the_driver(cluster, tmp_path, glue_dir, smoke_preset):
    from suite.records.layout import cell_path
    from suite.records.reader import read_record
    from tests.run.test_saved_models import assert_reloads_with_the_cells_predictions

    grid = Grid.build(
        smoke_preset,
        tmp_path / "results",
        glue_dir,
        tmp_path / "cache",
        execution=Execution(progress=False, save_models=True),
    )
    cells = [c for c in expand_grid(smoke_preset, ["heads", "ksp"]) if c.task == "mrpc"]
    summary = _run(grid, cells)
    assert summary.count("ok") == len(cells)
    for cell in cells:
        path = cell_path(grid.store.root, cell.task, cell.method, cell.budget, cell.seed)
        record = read_record(path)
        assert record["executor"]["name"] == "ray" and record["curve"]["rows"] >= 1
        assert (path.parent / record["curve"]["file"]).read_text().startswith("step,loss,lr,flop_fraction,loss_")
        assert_reloads_with_the_cells_predictions(grid, path)


def test_a_killed_worker_is_retried_and_a_raising_method_is_a_failed_record(
    cluster, tmp_path, glue_dir, smoke_preset, plugin, isolated_registry
):
    grid = _harness(tmp_path, smoke_preset, glue_dir)
    cells = [c for c in expand_grid(smoke_preset, ["t-dies-once", "t-raises"]) if c.task == "mrpc"]
    assert [c.budget for c in cells] == [1.0, 0.5]
    summary = _run(grid, cells, plugins=[plugin])
    assert (tmp_path / "died-once").read_text() == "killed"  # the first attempt did die
    status = {r.method: r for r in summary.ran}
    assert status["t-dies-once"].status == "ok"  # the retry finished the cell
    assert status["t-raises"].status == "failed" and "boom on a worker" in status["t-raises"].error
    record = json.loads(Path(grid.store.root / "mrpc" / "t-raises" / "budget0.5_seed0.json").read_text())
    assert record["status"] == "failed" and "RuntimeError: boom on a worker" in record["error"]
    assert record["executor"]["name"] == "ray"  # it failed inside the cell, on a worker


def test_a_cell_whose_worker_always_dies_is_failed_with_the_reason_and_the_grid_goes_on(
    cluster, tmp_path, glue_dir, smoke_preset, plugin, isolated_registry
):
    grid = _harness(tmp_path, smoke_preset, glue_dir)
    cells = [c for c in expand_grid(smoke_preset, ["t-always-dies", "dense"]) if c.task == "mrpc"]
    summary = _run(grid, cells, plugins=[plugin], max_retries=1)
    status = {r.method: r for r in summary.ran}
    assert status["dense"].status == "ok"
    died = status["t-always-dies"]
    assert died.status == "failed" and "did not finish on Ray after up to 2 attempts" in died.error
    record = json.loads(Path(grid.store.root / "mrpc" / "t-always-dies" / "budget0.5_seed0.json").read_text())
    assert record["status"] == "failed" and record["config_hash"] and record["run_config"]["method"] == "t-always-dies"
    assert "did not finish" in log_path(grid.store.root, cells[0]).read_text()


def test_through_the_cli_a_cell_that_fails_on_ray_is_reported_and_the_grid_finishes(
    cluster, tmp_path, glue_dir, plugin, isolated_registry, capsys
):
    """The `run` command's own per-cell line and summary for a cell Ray gave up on (no worker timed it)."""
    results = tmp_path / "results"
    argv = ["run", "--preset", "smoke", "--max-train-samples", "32", "--max-eval-samples", "32"]
    argv += ["--executor", "ray", "--workers", "2", "--max-retries", "0", "--plugins", plugin]
    argv += ["--methods", "t-always-dies,dense", "--tasks", "mrpc", "--glue-dir", str(glue_dir)]
    argv += ["--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1
    (dense_line,) = [line for line in err.splitlines() if line.startswith("mrpc   dense ")]
    assert ": ok " in dense_line
    (died_line,) = [line for line in err.splitlines() if line.startswith("mrpc   t-always-dies")]
    assert ": failed " in died_line and "did not finish on Ray after up to 1 attempts" in died_line
    assert "done: 1 ok, 0 over budget, 1 failed" in err
    died = json.loads((results / "mrpc" / "t-always-dies" / "budget0.5_seed0.json").read_text())
    assert died["status"] == "failed" and died["wall_s"] > 0  # the driver's seconds since it handed the cell over
    dense = json.loads((results / "mrpc" / "dense" / "budget1_seed0.json").read_text())
    assert dense["status"] == "ok"


def test_a_cell_past_its_time_limit_is_cancelled_and_failed_and_the_grid_goes_on(
    cluster, tmp_path, glue_dir, smoke_preset, plugin, isolated_registry
):
    from dataclasses import replace

    grid = _harness(tmp_path, replace(smoke_preset, cell_timeout=15.0), glue_dir)
    cells = [c for c in expand_grid(grid.spec.preset, ["t-hangs", "dense", "random"]) if c.task == "mrpc"]
    summary = _run(grid, cells, plugins=[plugin])
    status = {r.method: r for r in summary.ran}
    assert {m: r.status for m, r in status.items()} == {"t-hangs": "failed", "dense": "ok", "random": "ok"}
    record = json.loads(Path(grid.store.root / "mrpc" / "t-hangs" / "budget1_seed0.json").read_text())
    assert record["status"] == "failed" and record["error"] == "exceeded 15 s (--cell-timeout 15); cancelled on Ray"
    assert 15 <= record["wall_s"] < 60 and record["config_hash"]
    assert "exceeded 15 s" in log_path(grid.store.root, cells[0]).read_text()
    assert plan_grid(grid.identity, grid.store, cells).skipped == cells[1:]  # the others finished and kept


def test_method_knobs_travel_to_the_workers(cluster, tmp_path, glue_dir, smoke_preset):
    knobs = {"platon": {"window": 3, "beta1": 0.5}}
    grid = Grid.build(
        smoke_preset,
        tmp_path / "results",
        glue_dir,
        tmp_path / "cache",
        method_args=knobs,
        execution=Execution(progress=False),
    )
    cells = [c for c in expand_grid(smoke_preset, ["platon"]) if c.task == "mrpc"]
    summary = _run(grid, cells)
    assert summary.count("ok") == len(cells)
    (record,) = [r for r in read_records(grid.store.root) if r["method"] == "platon"]
    # The worker built the method with the knobs, and the driver's hash (which has them) is the record's.
    assert record["method_config"]["window"] == 3 and record["method_config"]["beta1"] == 0.5
    assert plan_grid(grid.identity, grid.store, cells).skipped == cells  # finished under the knobs' hash
    other = _harness(tmp_path, smoke_preset, glue_dir)
    assert plan_grid(other.identity, other.store, cells).to_run  # a run without them is another cell


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--workers", "2"], "error: --workers apply to --executor ray only"),
        (["--executor", "ray", "--workers", "0"], "error: --workers must be at least 1, got 0"),
        (["--executor", "ray", "--workers", "2", "--ray-address", "auto"], "error: --workers starts a local Ray"),
        (["--executor", "ray", "--device", "cuda"], "error: --device cuda on Ray needs --gpus-per-cell"),
    ],
)
def test_ray_flags_are_checked_in_one_line(capsys, tmp_path, argv, message):
    code = main(["run", "--preset", "smoke", "--results-dir", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message) and not (tmp_path / "r").exists()


def test_a_cell_larger_than_the_cluster_is_refused_before_anything_waits(cluster, tmp_path, glue_dir, smoke_preset):
    from suite.errors import SuiteError

    grid = _harness(tmp_path, smoke_preset, glue_dir)
    cells = [c for c in expand_grid(smoke_preset, ["dense"]) if c.task == "mrpc"]
    spec = spec_for(grid, (), threads=1, device="cpu")
    with pytest.raises(SuiteError, match="--gpus-per-cell 1: the Ray cluster has 0 GPUs in all"):
        run_on_ray(grid, cells, RayOptions(gpus_per_cell=1.0), spec)
