"""The Ray executor on a local Ray cluster (two CPUs): same cells and records as in-process, teachers
trained once, workers that die (killed, out of memory) run again up to --max-retries times, failures
recorded, the progress actor's death survived, the driver the only writer."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.integration

from suite.cli import main  # noqa: E402
from suite.records.layout import log_path, teacher_log_path  # noqa: E402
from suite.records.reader import read_records  # noqa: E402
from suite.registry import load_plugins  # noqa: E402
from suite.run.executors import ray_driver  # noqa: E402
from suite.run.executors.local import run_local  # noqa: E402
from suite.run.executors.ray_driver import RayOptions, run_on_ray  # noqa: E402
from suite.run.executors.ray_worker import spec_for  # noqa: E402
from suite.run.grid import Grid  # noqa: E402
from suite.run.identity import Execution  # noqa: E402
from suite.run.plan import expand_grid, plan_grid  # noqa: E402

# Ray's memory monitor, in the cluster of the out-of-memory test, kills workers once the node uses this
# much more memory than before that cluster started: room for the cluster itself, its workers and other
# programs on the machine, which `t-always-oom` alone exceeds (it holds up to 2 GiB more).
MEMORY_MARGIN_GIB = 5.0

# Cells that kill their own worker: the first attempt of `t-dies-once` (a marker file remembers it),
# every attempt of `t-always-dies`; `t-always-oom` grows until Ray's memory monitor kills its worker
# (for three attempts; a fourth, which no test allows, finishes); `t-raises` raises in prepare;
# `t-hangs-on-ray` never finishes. The file `attempts` beside the plugin has a line per attempt of the
# always-failing ones.
PLUGIN = textwrap.dedent(
    """
    import os
    import signal
    import time
    from pathlib import Path

    from suite.api import MethodInfo, PruningMethod
    from suite.registry import register_method

    MARKER = Path(__file__).with_name("died-once")
    ATTEMPTS = Path(__file__).with_name("attempts")
    MARGIN_GIB = {margin}


    def attempt(name):
        with ATTEMPTS.open("a") as attempts:
            attempts.write(name + "\\n")
        return ATTEMPTS.read_text().splitlines().count(name)


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
            attempt("t-always-dies")
            os.kill(os.getpid(), signal.SIGKILL)


    @register_method(MethodInfo(name="t-always-oom", summary="every worker running it runs out of memory"))
    class AlwaysOutOfMemory(Base):
        def prepare(self, model, ctx):
            if attempt("t-always-oom") > 3:
                return model
            held = []
            for _ in range(int((MARGIN_GIB + 2) * 16)):  # 64 MiB at a time, each byte written
                held.append(b"x" * (64 << 20))
                time.sleep(0.02)
            raise MemoryError(f"Ray's memory monitor let this worker hold {{MARGIN_GIB + 2}} GiB")


    @register_method(MethodInfo(name="t-raises", summary="raises in prepare"))
    class Raises(Base):
        def prepare(self, model, ctx):
            raise RuntimeError("boom on a worker")


    @register_method(MethodInfo(name="t-hangs-on-ray", summary="hangs in prepare", budgeted=False))
    class Hangs(Base):
        def prepare(self, model, ctx):
            time.sleep(3600)
    """
).format(margin=MEMORY_MARGIN_GIB)


def _start_cluster(**options) -> None:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR", **options)


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module (starting one takes seconds); the executor uses it as is."""
    _start_cluster()
    yield
    ray.shutdown()


@pytest.fixture
def memory_capped_cluster(cluster):
    """The module's cluster started again with Ray's memory monitor killing a worker once the node uses
    MEMORY_MARGIN_GIB more than now: a real out-of-memory kill, far below what the machine has."""
    from ray._private.utils import get_system_memory, get_used_memory  # what the memory monitor reads

    ray.shutdown()
    threshold = (get_used_memory() + MEMORY_MARGIN_GIB * 2**30) / get_system_memory()
    _start_cluster(_system_config={"memory_usage_threshold": threshold, "memory_monitor_refresh_ms": 100})
    yield
    ray.shutdown()
    _start_cluster()


@pytest.fixture
def plugin(tmp_path, isolated_registry) -> str:
    # Registered inside the isolated registry, so no later test in the process finds `t-always-dies`
    # (which SIGKILLs whatever process runs it) among "all" methods.
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


@pytest.mark.parametrize(
    ("method", "cause"), [("t-always-oom", "OutOfMemoryError"), ("t-always-dies", "WorkerCrashedError")]
)
def test_cells_whose_workers_always_die_or_run_out_of_memory_fail_after_the_retries_asked_for(
    memory_capped_cluster, tmp_path, glue_dir, smoke_preset, plugin, isolated_registry, method, cause
):
    """Ray would retry an out-of-memory kill without end (whatever --max-retries says): the driver's
    count stops both kinds of death after max_retries + 1 attempts, and the cell beside it finishes.
    One kind of death per run: a worker that kills itself while another grows past the memory threshold
    is reported by Ray as killed for memory, so the two together make the cause a race."""
    grid = _harness(tmp_path, smoke_preset, glue_dir)
    # dense first: the memory monitor kills the newest task, never the older cell beside the dying one
    cells = [c for c in expand_grid(smoke_preset, ["dense", method]) if c.task == "mrpc"]
    summary = _run(grid, cells, plugins=[plugin], max_retries=1)
    status = {r.method: r for r in summary.ran}
    assert status["dense"].status == "ok", status["dense"].error
    attempts = (tmp_path / "attempts").read_text().splitlines()
    assert attempts.count(method) == 2  # the first attempt and the one retry, no more
    died = status[method]
    assert died.status == "failed", died.error
    assert f"did not finish on Ray after 2 attempts: {cause}" in died.error
    cell = next(c for c in cells if c.method == method)
    record = json.loads(Path(grid.store.root / "mrpc" / method / f"budget{cell.budget:g}_seed0.json").read_text())
    assert record["status"] == "failed" and record["config_hash"] and record["run_config"]["method"] == method
    assert cause in record["error"] and "did not finish" in log_path(grid.store.root, cell).read_text()
    if method == "t-always-oom":
        assert "running low on memory" in died.error  # Ray's own reason


def test_the_progress_actor_dying_mid_run_stops_neither_the_driver_nor_a_cell(
    cluster, tmp_path, glue_dir, smoke_preset, monkeypatch
):
    """The bar's running count comes from an actor that the memory monitor, or anyone, may kill."""

    class KilledWhenACellStarts(ray_driver._StartedCells):
        def start(self, label: str) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(ray_driver, "_StartedCells", KilledWhenACellStarts)
    grid = _harness(tmp_path, smoke_preset, glue_dir)
    cells = [c for c in expand_grid(smoke_preset, ["dense", "random"]) if c.task == "mrpc"]
    summary = _run(grid, cells)
    assert summary.count("ok") == len(cells) == len(summary.ran)
    assert {r["method"] for r in read_records(grid.store.root) if r["role"] != "trivial"} == {"dense", "random"}


def test_a_teacher_whose_worker_always_dies_fails_its_cells_with_its_reason(
    cluster, tmp_path, glue_dir, smoke_preset, monkeypatch
):
    """A teacher is run again like a cell, and its cells (held back until it arrives) fail with its cause."""
    attempts = tmp_path / "teacher-attempts"

    def killed_teacher(spec, task, seed, data):
        with attempts.open("a") as out:
            out.write(f"{task}\n")
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(ray_driver, "_teacher_task", killed_teacher)
    grid = _harness(tmp_path, smoke_preset, glue_dir)
    cells = [c for c in expand_grid(smoke_preset, ["dense", "heads"]) if c.task == "mrpc"]
    summary = _run(grid, cells, max_retries=1)
    status = {r.method: r for r in summary.ran}
    assert status["dense"].status == "ok" and attempts.read_text().splitlines() == ["mrpc", "mrpc"]
    heads = status["heads"]
    assert heads.status == "failed" and "its teacher (mrpc seed 0) failed: not trained after 2 attempts" in heads.error
    assert "WorkerCrashedError" in teacher_log_path(grid.store.root, "mrpc", 0).read_text()


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
    assert ": failed " in died_line and "did not finish on Ray after 1 attempt:" in died_line
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
    cells = [c for c in expand_grid(grid.spec.preset, ["t-hangs-on-ray", "dense", "random"]) if c.task == "mrpc"]
    summary = _run(grid, cells, plugins=[plugin])
    status = {r.method: r for r in summary.ran}
    assert {m: r.status for m, r in status.items()} == {"t-hangs-on-ray": "failed", "dense": "ok", "random": "ok"}
    record = json.loads(Path(grid.store.root / "mrpc" / "t-hangs-on-ray" / "budget1_seed0.json").read_text())
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
