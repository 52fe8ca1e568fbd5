"""End to end on the tiny model and the fixture data: records, resume, failures, over budget."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from suite.records.atomic import write_json_atomic
from suite.records.layout import Cell, cell_path
from suite.records.reader import read_records
from suite.registry import load_plugins
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid
from suite.run.teachers import Teachers

# The result record's required fields (README, "Result record").
REQUIRED = [
    "method",
    "task",
    "budget",
    "seed",
    "status",
    "score",
    "metrics",
    "flops",
    "params",
    "latency_ms",
    "train_steps",
    "train_examples",
    "wall_s",
    "teacher",
    "config_hash",
    "versions",
    "git_sha",
    "error",
]

PLUGINS = textwrap.dedent(
    """
    import torch
    from suite.api import MethodInfo, PruningMethod
    from suite.registry import register_method

    class Base(PruningMethod):
        def prepare(self, model, ctx):
            return model

        def finalize(self, model, ctx):
            return model

    @register_method(MethodInfo(name="t-explodes", summary="raises in prepare"))
    class Explodes(Base):
        def prepare(self, model, ctx):
            raise RuntimeError("boom in prepare")

    @register_method(MethodInfo(name="t-nan", summary="NaN loss"))
    class NaN(Base):
        def training_loss(self, model, batch, outputs, ctx):
            return outputs.loss * float("nan")

    @register_method(MethodInfo(name="t-nobudget", summary="claims a budget, prunes nothing"))
    class NoBudget(Base):
        pass

    @register_method(MethodInfo(name="t-student", summary="needs the teacher", needs_teacher=True))
    class Student(Base):
        def prepare(self, model, ctx):
            assert ctx.teacher is not None
            return model

        def finalize(self, model, ctx):
            with torch.no_grad():
                for layer in model.bert.encoder.layer:
                    for lin in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value,
                                layer.attention.output.dense, layer.intermediate.dense, layer.output.dense):
                        lin.weight.zero_()
            return model
    """
)


@pytest.fixture
def grid(tmp_path, glue_dir, smoke_preset):
    return Grid.build(
        smoke_preset, tmp_path / "results", glue_dir, tmp_path / "cache", execution=Execution(progress=False)
    )


@pytest.mark.integration
def test_dense_records_have_every_field_and_resume_skips(grid, smoke_preset, tmp_path):
    cells = expand_grid(smoke_preset, ["dense"])
    assert cells == [Cell("sst2", "dense", 1.0, 0), Cell("mrpc", "dense", 1.0, 0)]
    first = run_local(grid, cells)
    assert first.count("ok") == 2 and not first.skipped
    records = [r for r in read_records(tmp_path / "results") if r["role"] == "method"]
    assert len(records) == 2
    for record in records:
        assert not [f for f in REQUIRED if f not in record]
        assert record["status"] == "ok" and record["error"] is None
        assert record["flops"]["fraction"] == pytest.approx(1.0)
        # The reference row trains 2S from the pre-trained checkpoint (S = 2 steps here).
        assert record["train_steps"] == 4 and record["train_examples"] == 64
        assert record["training"]["lineage_steps"] == 4 and record["training"]["start"] == "pretrained"
        assert 0.0 <= record["score"] <= 100.0
        assert record["latency_ms"]["batch_1"] > 0 and record["latency_ms"]["device"] == "cpu"
        assert record["teacher"] is None  # plain fine-tuning: no teacher
    # Both dense models have the same shapes: timed once (first cell), reused by the second.
    latency = {r["task"]: r["latency_ms"] for r in records}
    assert latency["sst2"]["reused"] is False and latency["sst2"]["timed_in"] == "sst2/dense/b1/s0"
    assert latency["mrpc"]["reused"] is True and latency["mrpc"]["timed_in"] == "sst2/dense/b1/s0"
    assert latency["mrpc"]["architecture"] == latency["sst2"]["architecture"]
    assert latency["mrpc"]["batch_1"] == latency["sst2"]["batch_1"]
    trivial = [r for r in read_records(tmp_path / "results") if r["role"] == "trivial"]
    assert sorted(r["task"] for r in trivial) == ["mrpc", "sst2"]
    again = Grid.build(
        smoke_preset,
        tmp_path / "results",
        grid.spec.glue_dir,
        tmp_path / "cache",
        execution=Execution(progress=False),
    )
    second = run_local(again, cells)
    assert not second.ran and len(second.skipped) == 2


@pytest.mark.integration
def test_a_teacher_trained_for_a_cell_counts_in_the_teacher_row_not_the_cell(grid, monkeypatch):
    """Each record's wall_s is its own row's cost: the first cell that needs the teacher trains it, but
    those seconds go to the teacher's record (its cache entry's training time), so a method's time does
    not depend on whether it ran first and a seed's sum counts the teacher once, cached or not."""
    pause_s = 10.0  # far above a smoke cell's own seconds
    fit = Teachers._fit

    def slow_fit(self, task, seed, key):
        time.sleep(pause_s)
        return fit(self, task, seed, key)

    monkeypatch.setattr(Teachers, "_fit", slow_fit)
    summary = run_local(grid, [Cell("sst2", "heads", 0.5, 0), Cell("sst2", "teacher", 1.0, 0)])
    assert summary.count("ok") == 2, [r.error for r in summary.ran]
    student, teacher = summary.ran
    assert grid.teachers.training_s >= pause_s
    assert 0 < student.wall_s < pause_s
    trained_s = grid.teachers.get("sst2", 0).meta["wall_s"]  # the cached entry: no second training
    assert trained_s > 0 and teacher.wall_s >= trained_s
    assert grid.teachers.training_s < 2 * pause_s


@pytest.mark.integration
def test_cells_are_reproducible(tmp_path, glue_dir, smoke_preset):
    scores = []
    for run in ("a", "b"):
        h = Grid.build(
            smoke_preset, tmp_path / run, glue_dir, tmp_path / f"cache-{run}", execution=Execution(progress=False)
        )
        scores.append(run_local(h, [Cell("mrpc", "dense", 1.0, 0)]).ran[0].metrics)
    assert scores[0] == scores[1]


@pytest.mark.integration
def test_failures_are_recorded_and_the_grid_goes_on(grid, smoke_preset, tmp_path, isolated_registry):
    plugin = tmp_path / "plugins.py"
    plugin.write_text(PLUGINS)
    load_plugins([str(plugin)])
    cells = [Cell("sst2", m, 0.5, 0) for m in ("t-explodes", "t-nan", "t-nobudget", "t-student")]
    summary = run_local(grid, cells)
    status = {r.method: r for r in summary.ran}
    assert status["t-explodes"].status == "failed"
    assert status["t-explodes"].error.startswith("RuntimeError: boom in prepare")
    assert status["t-nan"].status == "failed" and "NonFiniteLossError" in status["t-nan"].error
    assert status["t-nobudget"].status == "over_budget"
    assert "exceeds budget 0.5" in status["t-nobudget"].error
    student = status["t-student"]
    assert student.status == "ok" and student.flops["fraction"] < 0.5
    assert student.teacher and student.params["encoder_linear_density"] == 0.0
    assert summary.any_failed
    # failed cells run again on the next run; finished ones do not
    rerun = run_local(grid, cells)
    assert sorted(r.method for r in rerun.ran) == ["t-explodes", "t-nan"]


@pytest.mark.integration
def test_changed_config_reruns_the_cell(grid, smoke_preset, tmp_path):
    from dataclasses import replace

    cells = [Cell("mrpc", "dense", 1.0, 0)]
    run_local(grid, cells)
    changed = replace(smoke_preset, max_train_samples=16)
    h2 = Grid.build(
        changed, tmp_path / "results", grid.spec.glue_dir, tmp_path / "cache", execution=Execution(progress=False)
    )
    assert len(run_local(h2, cells).ran) == 1


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    path = cell_path(tmp_path, "sst2", "dense", 1.0, 0)
    write_json_atomic(path, {"method": "dense"})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"method": object()})
    assert json.loads(path.read_text()) == {"method": "dense"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]
