"""A cell that hangs is given up on: past its time limit it is recorded `failed` ("exceeded N s"),
the cells finished before it are kept and the next one runs. SIGTERM stops a `run` as Ctrl-C does:
finished cells kept, one line, exit 143 (on Ray without Ray's C++ stack dump).

The faults come from a test plugin: `t-hangs` sleeps in its first training step (and would swallow
an `except Exception`), `t-waits` blocks on a lock that is never released."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from suite.cli import main
from suite.records.layout import cell_path
from suite.registry import load_plugins
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid, plan_grid

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = textwrap.dedent(
    """
    import threading
    import time

    from suite.api import MethodInfo, PruningMethod
    from suite.registry import register_method


    class Base(PruningMethod):
        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model


    @register_method(MethodInfo(name="t-hangs", summary="its training hangs in the first step", budgeted=False))
    class Hangs(Base):
        def on_step_end(self, model, step, ctx):
            try:
                time.sleep(3600)
            except Exception:  # a careless method: a time limit must not be swallowed by it
                time.sleep(3600)


    @register_method(MethodInfo(name="t-waits", summary="waits forever on a lock", budgeted=False))
    class Waits(Base):
        def prepare(self, model, ctx):
            lock = threading.Lock()
            lock.acquire()
            lock.acquire()
    """
)


@pytest.fixture
def plugin(tmp_path, isolated_registry) -> str:
    # Registered inside the isolated registry: no later test finds a method that hangs among "all".
    path = tmp_path / "hang_plugin.py"
    path.write_text(PLUGIN)
    load_plugins([str(path)])
    return str(path)


def _grid(tmp_path, glue_dir, smoke_preset, cell_timeout) -> Grid:
    preset = replace(
        smoke_preset,
        tasks=("mrpc",),
        max_train_samples=16,
        max_eval_samples=16,
        latency_batches=(1,),
        cell_timeout=cell_timeout,
    )
    return Grid.build(preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False))


def _record(grid: Grid, method: str, budget: float) -> dict:
    return json.loads(cell_path(grid.store.root, "mrpc", method, budget, 0).with_suffix(".json").read_text())


@pytest.mark.integration
def test_a_hung_cell_is_failed_after_its_limit_and_the_grid_goes_on(
    tmp_path, glue_dir, smoke_preset, plugin, isolated_registry
):
    # The limit is set from an ordinary cell timed here first: a fixed one small enough to keep the
    # test short also cut off ordinary cells on a machine busy with a training job.
    untimed = _grid(tmp_path, glue_dir, smoke_preset, "off")
    start = time.perf_counter()
    run_local(untimed, expand_grid(untimed.spec.preset, ["dense"]))
    limit = float(max(6, math.ceil(3 * (time.perf_counter() - start))))

    grid = _grid(tmp_path, glue_dir, smoke_preset, limit)
    cells = expand_grid(grid.spec.preset, ["dense", "t-hangs", "t-waits", "random"])
    start = time.perf_counter()
    summary = run_local(grid, cells)
    assert time.perf_counter() - start < 4 * limit + 60  # two hangs of an hour each were cut short
    status = {r.method: r.status for r in summary.ran}
    assert status == {"t-hangs": "failed", "t-waits": "failed", "random": "ok"}  # dense: finished before
    for method in ("t-hangs", "t-waits"):
        record = _record(grid, method, 1.0)
        assert record["status"] == "failed"
        expected = f"CellTimedOut: exceeded {limit:g} s (--cell-timeout {limit:g})"
        assert record["error"].startswith(expected), record["error"]
        assert limit <= record["wall_s"] < limit + 30
    assert "time.sleep(3600)" in _record(grid, "t-hangs", 1.0)["error"]  # where it hung
    assert _record(grid, "dense", 1.0)["status"] == "ok" and _record(grid, "random", 0.5)["status"] == "ok"
    assert plan_grid(grid.identity, grid.store, cells).skipped == [cells[0], cells[3]]  # finished cells kept


def test_the_time_limit_is_no_part_of_a_cells_identity(tmp_path, glue_dir, smoke_preset):
    def hashes(cell_timeout) -> list[str]:
        grid = _grid(tmp_path, glue_dir, smoke_preset, cell_timeout)
        plan = plan_grid(grid.identity, grid.store, expand_grid(grid.spec.preset, ["dense", "ksp"]))
        return [config["teacher"] if "teacher" in config else str(config) for _, _, config in plan.to_run]

    assert hashes("auto") == hashes(5.0) == hashes("off")


@pytest.mark.parametrize(("flag", "setting"), [("0", "off"), ("off", "off"), ("45", 45.0), ("auto", "auto")])
def test_the_flag_sets_the_presets_limit(tmp_path, flag, setting):
    from suite.cli import build_parser
    from suite.cli.run import RunRequest

    args = build_parser().parse_args(
        ["run", "--preset", "smoke", "--cell-timeout", flag, "--results-dir", str(tmp_path)]
    )
    assert RunRequest.from_args(args).preset.cell_timeout == setting


@pytest.mark.parametrize("flag", ["-5", "soon", "inf"])
def test_a_bad_limit_is_one_line(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--preset", "smoke", "--cell-timeout", flag, "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and not (tmp_path / "r").exists()
    assert "--cell-timeout: cell timeout must be a positive number of seconds, 'auto' or 'off' (or 0)" in err


def _sigterm_after_first_cell(tmp_path: Path, plugin: str, *extra: str) -> tuple[int, str]:
    """`run --preset smoke` in a subprocess: dense, then a hanging cell; SIGTERM once dense is reported."""
    argv = [sys.executable, "-m", "suite", "run", "--preset", "smoke", "--tasks", "mrpc", "--methods", "dense,t-hangs"]
    argv += [
        "--max-train-samples",
        "16",
        "--max-eval-samples",
        "16",
        "--glue-dir",
        str(ROOT / "tests/fixtures/glue_data"),
    ]
    argv += ["--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), "--plugins", plugin]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.Popen([*argv, *extra], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("mrpc   dense "):
                break
        time.sleep(2)  # into the hanging cell
        proc.send_signal(signal.SIGTERM)
        lines.append(proc.stderr.read())
        code = proc.wait(timeout=120)
    finally:
        proc.kill()
    return code, "".join(lines)


@pytest.mark.integration
@pytest.mark.parametrize("executor", [[], ["--executor", "ray", "--workers", "2"]], ids=["local", "ray"])
def test_sigterm_stops_a_run_like_ctrl_c(tmp_path, plugin, executor):
    if executor:
        pytest.importorskip("ray")
    code, err = _sigterm_after_first_cell(tmp_path, plugin, "--no-progress", *executor)
    assert code == 143, err
    after = err.split("mrpc   dense ", 1)[1].splitlines()[1:]
    assert after == ["terminated (SIGTERM): finished cells are kept; rerun the same command to resume"], err
    assert "Stack trace" not in err and "*** SIG" not in err and "Traceback" not in err
    results = tmp_path / "results" / "mrpc"
    assert json.loads((results / "dense" / "budget1_seed0.json").read_text())["status"] == "ok"
    assert not (results / "t-hangs").exists()  # cancelled, not failed: a rerun computes it
