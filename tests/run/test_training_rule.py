"""The training rule, per registered method: equal lineage steps, the right start, the record says
how the rule was met, and every cell leaves a valid predictions sidecar."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from suite.api import MethodInfo, PruningMethod
from suite.records.formats import read_predictions
from suite.records.layout import cell_path
from suite.records.reader import read_record
from suite.registry import get_method, list_methods
from suite.run.executors.local import run_local
from suite.run.grid import Grid
from suite.run.identity import Execution
from suite.run.plan import expand_grid
from suite.spec.rules import LINEAGE_MULTIPLE, method_lineage, teacher_lineage

TASK = "mrpc"


@pytest.fixture(scope="module")
def rule_grid(tmp_path_factory):
    from suite.spec.presets import get_preset
    from tests.conftest import FIXTURE_GLUE

    preset = replace(
        get_preset("smoke"),
        tasks=(TASK,),
        max_train_samples=32,
        max_eval_samples=24,
        latency_batches=(1,),
        latency_repeats=1,
    )
    root = tmp_path_factory.mktemp("rule")
    return Grid.build(preset, root / "results", FIXTURE_GLUE, root / "cache", execution=Execution(progress=False))


def test_lineage_arithmetic():
    assert method_lineage("pretrained", 7).as_dict() == {
        "start": "pretrained",
        "own_steps": 14,
        "inherited_steps": 0,
        "lineage_steps": 14,
    }
    assert method_lineage("teacher", 7).lineage_steps == 14 == LINEAGE_MULTIPLE * 7
    assert (method_lineage("teacher", 7).own_steps, method_lineage("teacher", 7).inherited_steps) == (7, 7)
    assert teacher_lineage(7).lineage_steps == 7
    with pytest.raises(ValueError, match="unknown start"):
        method_lineage("midway", 7)


def test_the_starts_the_issue_names():
    assert get_method("heads").start == "teacher" and get_method("distill").start == "teacher"
    for name in ("ksp", "magnitude", "movement", "random", "layers", "dense"):
        assert get_method(name).start == "pretrained", name


@pytest.mark.integration
@pytest.mark.parametrize("name", list_methods())
def test_every_method_meets_the_training_rule_and_leaves_predictions(name, rule_grid):
    method = get_method(name)
    (cell, *_) = expand_grid(rule_grid.spec.preset, [name])
    summary = run_local(rule_grid, [cell])
    assert summary.count("ok") == 1, [r.error for r in summary.ran]
    path = cell_path(rule_grid.store.root, cell.task, cell.method, cell.budget, cell.seed)
    record = read_record(path)
    steps = rule_grid.identity.teacher_steps(TASK)
    training = record["training"]
    if method.info.is_teacher:
        assert record["role"] == "teacher" and training["lineage_steps"] == steps
    else:
        assert record["role"] == "method"
        assert training["lineage_steps"] == LINEAGE_MULTIPLE * steps
        assert training["start"] == method.start
        own = steps if method.start == "teacher" else LINEAGE_MULTIPLE * steps
        assert (training["own_steps"], training["inherited_steps"]) == (own, training["lineage_steps"] - own)
    assert record["train_steps"] == training["own_steps"]
    assert training["flops"] > 0
    uses_teacher = method.info.needs_teacher or method.start == "teacher"
    assert (training.get("teacher_flops") is not None) == (uses_teacher and not method.info.is_teacher)
    sidecar = read_predictions(path, record)  # checks n and sha256 against the record
    dev = rule_grid.inputs.task_data(TASK).evals["validation"]
    assert sidecar.split == "validation" and len(sidecar.predictions) == len(dev) == record["predictions"]["n"]
    assert sidecar.labels == list(dev["label"])
    assert record["score"] == pytest.approx(100.0 * _f1(np.array(sidecar.predictions), np.array(sidecar.labels)))


def _f1(predictions: np.ndarray, labels: np.ndarray) -> float:
    tp = int(((predictions == 1) & (labels == 1)).sum())
    return 2 * tp / max(int((predictions == 1).sum() + (labels == 1).sum()), 1)


@pytest.mark.integration
def test_a_method_that_starts_from_the_teacher_gets_its_weights(rule_grid, isolated_registry):
    seen: list[dict[str, torch.Tensor]] = []

    info = MethodInfo(name="t-from-teacher", summary="records its start", budgeted=False, start="teacher")

    @isolated_registry.register_method(info)
    class FromTeacher(PruningMethod):
        def prepare(self, model, ctx):
            assert ctx.teacher is None  # it does not distil: only the start needs the teacher
            assert all(p.requires_grad for p in model.parameters())
            seen.append({k: v.clone() for k, v in model.state_dict().items()})
            return model

        def finalize(self, model, ctx):
            return model

    cells = expand_grid(rule_grid.spec.preset, ["t-from-teacher"])
    assert run_local(rule_grid, cells).count("ok") == 1
    teacher = rule_grid.teachers.get(TASK, 0).model.state_dict()
    assert seen and all(torch.equal(seen[0][k], teacher[k]) for k in teacher)


@pytest.mark.integration
def test_trivial_rows_are_written_from_the_data(rule_grid):
    run_local(rule_grid, expand_grid(rule_grid.spec.preset, ["dense"]))
    path = cell_path(rule_grid.store.root, TASK, "trivial", 1.0, 0)
    record = read_record(path)
    labels = np.array(rule_grid.inputs.task_data(TASK).train["label"])
    majority = int(np.bincount(labels).argmax())
    assert record["role"] == "trivial" and record["method_config"]["value"] == majority
    sidecar = read_predictions(path, record)
    assert set(sidecar.predictions) == {majority}
    assert record["flops"]["fraction"] == 0.0 and record["training"]["lineage_steps"] == 0
