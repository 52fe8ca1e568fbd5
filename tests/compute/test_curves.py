"""Training curves: a CSV beside each cell's record (step, loss, its distillation terms, learning rate,
kept FLOP fraction) at a fixed interval and the last step, outside the config hash; TensorBoard too."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest

from suite.compute.curves import TrainingCurve
from suite.records.formats import to_csv
from suite.records.layout import cell_path
from suite.records.reader import read_record
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid


def _read_curve(path) -> list[dict[str, float]]:
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.fixture
def preset(smoke_preset):
    # S = 64 / 16 = 4 steps: ksp (from the pre-trained model) trains 2S = 8, a row every 3 steps.
    return replace(smoke_preset, tasks=("mrpc",), max_train_samples=64, latency_batches=(1,), curve_every=3)


@pytest.mark.integration
def test_every_cell_writes_its_curve_with_the_distillation_terms(tmp_path, glue_dir, preset):
    grid = Grid.build(preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False))
    cells = expand_grid(preset, ["ksp", "movement", "random", "teacher"])
    summary = run_local(grid, cells)
    assert summary.count("ok") == len(cells)
    curves = {}
    for cell in cells:
        record_path = cell_path(grid.store.root, cell.task, cell.method, cell.budget, cell.seed)
        record = read_record(record_path)
        assert record["curve"]["file"] == record_path.stem + ".curve.csv"
        curves[cell.method] = _read_curve(record_path.parent / record["curve"]["file"])
        assert record["curve"]["rows"] == len(curves[cell.method])

    ksp = curves["ksp"]
    assert [row["step"] for row in ksp] == [3, 6, 8]  # the interval, and always the last step
    for row in ksp:
        terms = row["loss_hidden"] + row["loss_attention"] + row["loss_logits"]
        assert row["loss"] == pytest.approx(terms, rel=1e-5)
    # Linear decay to 0 over 8 steps: step t trains at lr x (1 - (t - 1) / 8).
    lr = preset.train.learning_rate
    assert [row["lr"] for row in ksp] == pytest.approx([lr * (1 - 2 / 8), lr * (1 - 5 / 8), lr * (1 - 7 / 8)])
    # The kept FLOP fraction falls along the pruning ramp and ends where the record's does; movement's
    # masks stay outside its weights until finalize, and its curve follows them all the same.
    for method in ("ksp", "movement"):
        fractions = [row["flop_fraction"] for row in curves[method]]
        assert fractions == sorted(fractions, reverse=True) and fractions[0] < 1.0
        record = read_record(cell_path(grid.store.root, "mrpc", method, 0.5, 0))
        assert fractions[-1] == pytest.approx(record["flops"]["fraction"], abs=1e-3)
    # Task loss only: no distillation columns. The teacher's row comes from its (cached) training.
    assert list(curves["random"][0]) == ["step", "loss", "lr", "flop_fraction"]
    assert [row["step"] for row in curves["teacher"]] == [3, 4]
    assert all(row["flop_fraction"] == pytest.approx(1.0) for row in curves["teacher"])


@pytest.mark.integration
def test_the_curve_interval_is_not_part_of_the_config_hash(tmp_path, glue_dir, preset):
    cells = expand_grid(preset, ["random"])
    run_local(
        Grid.build(preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False)),
        cells,
    )
    other = replace(preset, curve_every=1)
    summary = run_local(
        Grid.build(other, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False)),
        cells,
    )
    assert not summary.ran and len(summary.skipped) == len(cells)


def test_a_row_every_interval_and_the_last_step_and_terms_as_columns():
    curve = TrainingCurve(every=4, total_steps=10)
    for step in range(1, 11):
        if curve.due(step):
            curve.add(step, 1.0 / step, 0.1, 0.5, {"hidden": 0.25} if step > 4 else {})
    assert [row["step"] for row in curve.rows] == [4, 8, 10]
    assert to_csv(curve.rows).splitlines() == [
        "step,loss,lr,flop_fraction,loss_hidden",
        "4,0.25,0.1,0.5,",
        "8,0.125,0.1,0.5,0.25",
        "10,0.1,0.1,0.5,0.25",
    ]
    with pytest.raises(ValueError, match="at least 1 step"):
        TrainingCurve(every=0, total_steps=10)


@pytest.mark.integration
def test_tensorboard_gets_the_same_scalars(tmp_path, glue_dir, preset):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    grid = Grid.build(
        preset,
        tmp_path / "results",
        glue_dir,
        tmp_path / "cache",
        execution=Execution(progress=False, tensorboard=True),
    )
    cells = expand_grid(preset, ["ksp"])
    run_local(grid, cells)
    record_path = cell_path(grid.store.root, "mrpc", "ksp", 0.5, 0)
    rows = _read_curve(record_path.with_name(record_path.stem + ".curve.csv"))
    events = EventAccumulator(str(grid.store.root / "tensorboard" / "mrpc" / "ksp" / "budget0.5_seed0")).Reload()
    assert sorted(events.Tags()["scalars"]) == sorted(f"train/{name}" for name in rows[0] if name != "step")
    for name in ("loss", "lr", "flop_fraction", "loss_logits"):
        scalars = events.Scalars(f"train/{name}")
        assert [s.step for s in scalars] == [int(row["step"]) for row in rows]
        assert [s.value for s in scalars] == pytest.approx([row[name] for row in rows], rel=1e-6)


def test_tensorboard_missing_is_one_line(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard") or name.startswith("tensorboard"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    from suite.cli import main

    code = main(["run", "--preset", "smoke", "--results-dir", str(tmp_path / "r"), "--tensorboard"])
    err = capsys.readouterr().err
    assert code == 2 and "error: --tensorboard needs TensorBoard: pip install tensorboard" in err
    assert not (tmp_path / "r").exists()
