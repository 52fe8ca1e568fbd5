"""Every registered method, automatically: prepare, a few training steps, finalize, forward,
budget respected. A new method folder is covered without editing this file."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import DataCollatorWithPadding, PreTrainedModel

from suite.api import Budget
from suite.compute.data import load_task, tokenize
from suite.compute.engines import engines_for
from suite.compute.models import load_model, load_tokenizer
from suite.compute.onnx_export import export_onnx
from suite.compute.train import TrainConfig, make_loader, train
from suite.flops import budget_fraction, count_flops
from suite.registry import get_method, list_methods
from suite.spec.tasks import get_task
from suite.structure import load_pruned, save_pruned
from tests.builders.context import run_context

BUDGET = 0.5
STEPS = 3


@pytest.fixture(scope="module")
def setup(request):
    from tests.conftest import FIXTURE_GLUE

    task = get_task("sst2")
    tokenizer = load_tokenizer("tiny")
    data = load_task(task, FIXTURE_GLUE, max_train_samples=32)
    train_set = tokenize(data.train, tokenizer, 64)
    collator = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    teacher = load_model("tiny", task, seed=1).eval().requires_grad_(False)
    return task, train_set, collator, teacher


@pytest.mark.parametrize("name", list_methods())
def test_method_contract(name, setup, tmp_path):
    task, train_set, collator, teacher = setup
    method = get_method(name)
    budget = Budget(BUDGET if method.info.budgeted else 1.0)
    reference = count_flops(load_model("tiny", task, seed=0), 128)
    # The starting weights the harness hands over: the teacher's copy, or the pre-trained model.
    model = copy.deepcopy(teacher).requires_grad_(True) if method.start == "teacher" else load_model("tiny", task, 0)
    ctx = run_context(
        reference,
        task=task,
        budget=budget.fraction,
        total_steps=STEPS,
        teacher=copy.deepcopy(teacher) if method.info.needs_teacher else None,
        calibration_batches=[next(iter(make_loader(train_set, collator, 8, seed=0)))],
    )
    model = method.prepare(model, ctx)
    stats = train(model, method, ctx, train_set, collator, TrainConfig(batch_size=8), progress=False)
    assert stats.steps == STEPS
    final = method.finalize(model, ctx)
    assert isinstance(final, PreTrainedModel)
    batch = next(iter(make_loader(train_set, collator, 4, seed=None)))
    batch.pop("labels")
    with torch.no_grad():
        logits = final(**batch).logits
    assert logits.shape == (4, task.num_labels) and torch.isfinite(logits).all()
    fraction = budget_fraction(count_flops(final, 128), reference)
    assert budget.allows(fraction), f"{name}: FLOP fraction {fraction:.3f} over budget {budget.fraction}"
    # exported to ONNX it computes the same logits on an engine (whatever the method removed or zeroed)
    path = export_onnx(final, tmp_path / "final.onnx")
    run, _ = engines_for(["onnxruntime"])[0].load(path, "fp32", threads=1)
    inputs = {name: batch[name].numpy() for name in ("input_ids", "attention_mask")}
    assert np.abs(np.asarray(run(inputs)) - logits.float().numpy()).max() < 1e-4, name
    # the finalized model is a plain checkpoint: saving and reloading gives the same predictions
    save_pruned(final, tmp_path / "model")
    reloaded = load_pruned(tmp_path / "model").eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(**batch).logits, logits, atol=1e-6)
    assert count_flops(reloaded, 128) == count_flops(final, 128)
