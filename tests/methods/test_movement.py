"""movement: the nn_pruning shims (suite/compat/nn_pruning.py), one test each, and proof that nn_pruning's
own modules mask, learn and get baked by the method (methods/movement)."""

from __future__ import annotations

import copy
import dataclasses
import logging
import subprocess
import sys

import pytest
import torch
from torch import nn
from transformers import BertForSequenceClassification, PreTrainedModel

from suite.api import RunContext
from suite.compat.nn_pruning import import_nn_pruning
from suite.compute.train import TrainConfig, TrainStep
from suite.flops import budget_fraction, count_flops, encoder_linears
from suite.registry import get_method
from suite.sparsity import PruningSchedule, kept_fraction_for_budget
from tests.builders.context import run_context
from tests.builders.models import tiny_bert

SEQ = 16  # FLOP sequence length of the tiny model: short enough that budget 0.5 is reachable
STEPS = 10


@pytest.fixture(scope="module")
def nnp():
    return import_nn_pruning()


def masked_nn(nnp):
    return nnp.modules["nn_pruning.modules.masked_nn"]


def tiny(seed: int = 0) -> BertForSequenceClassification:
    return tiny_bert(seed, eval_mode=False, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def batches(count: int = STEPS, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        ids = torch.randint(5, 100, (8, 12), generator=gen)
        mask = torch.ones_like(ids)
        mask[::2, 9:] = 0  # some padding
        out.append({"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 2, (8,), generator=gen)})
    return out


def context(
    model, total_steps: int = STEPS, budget: float = 0.5, schedule: PruningSchedule | None = None
) -> RunContext:
    teacher = tiny(seed=1).eval().requires_grad_(False)
    return run_context(
        model, budget=budget, total_steps=total_steps, flop_seq_len=SEQ, teacher=teacher, schedule=schedule
    )


def movement(**config):
    registered = get_method("movement")
    return registered if not config else type(registered)(registered.info, registered.Config(**config))


def prepared(**config):
    model = tiny()
    ctx = context(model)
    method = movement(**config)
    return method, method.prepare(model, ctx), ctx


def masked_linears(nnp, model):
    return [(name, module) for name, module in encoder_linears(model) if isinstance(module, nnp.MaskedLinear)]


def scores_of(module) -> torch.Tensor:
    (context_module,) = module.mask_module.context_modules
    return context_module.mask_scores


# ----- shims -----------------------------------------------------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 accepts nn_pruning's dataclass default")
def test_shim_dataclass_identity_hash_lets_masked_nn_import_and_leaves_no_trace(nnp):
    # Without the shim, in a fresh interpreter: the 3.11 mutable-default check refuses masked_nn.
    plain = subprocess.run(
        [sys.executable, "-c", "import nn_pruning.modules.masked_nn"], capture_output=True, text=True, timeout=60
    )
    assert plain.returncode != 0
    assert "mutable default" in plain.stderr and "InitDirective" in plain.stderr
    # With it: imported, and afterwards exactly the Python 3.10 behaviour: one shared default instance,
    # InitDirective unhashable again, dataclasses.dataclass and every module global back to the original.
    module = masked_nn(nnp)
    args = [module.LinearPruningArgs("topK", "default", "disabled", 1, 1, 0.0) for _ in range(2)]
    assert args[0].mask_init is args[1].mask_init
    assert args[0].mask_init == module.InitDirective("constant", 0.0)
    assert module.InitDirective.__hash__ is None and module.LinearPruningArgs.__hash__ is None
    assert dataclasses.dataclass.__module__ == "dataclasses"
    wrapped = [
        name
        for name, mod in list(sys.modules.items())
        if "identity_hash" in getattr(getattr(mod, "__dict__", {}).get("dataclass"), "__qualname__", "")
    ]
    assert wrapped == []


def test_shim_heads_pruner_compile_model_without_prune_heads(nnp, caplog):
    coordinator_module = nnp.modules["nn_pruning.patch_coordinator"]
    original = sys.modules["nn_pruning.inference_model_patcher"].BertHeadsPruner
    assert not hasattr(PreTrainedModel, "prune_heads")  # removed in transformers 5: the breakage is real

    def patched_model():
        method, model, _ctx = prepared()
        with torch.no_grad():  # distinct scores; head 0 of layer 0 (query rows 0..7) lowest: topK drops it
            for _name, module in masked_linears(nnp, model):
                scores_of(module).uniform_(0.5, 1.0)
            scores_of(model.bert.encoder.layer[0].attention.self.query)[:8] = -1.0
        method.coordinator.sparse_args.final_threshold = 0.5
        return method, model

    method, model = patched_model()
    coordinator_module.BertHeadsPruner, shim = original, coordinator_module.BertHeadsPruner
    try:
        with pytest.raises(AttributeError, match="prune_heads"):
            method.coordinator.compile_model(model)
    finally:
        coordinator_module.BertHeadsPruner = shim

    method, model = patched_model()
    batch = batches(1)[0]
    method.coordinator.schedule_threshold()  # eval: the final threshold
    with torch.no_grad():
        before = model.eval()(**batch).logits
        with caplog.at_level(logging.WARNING, logger="suite.compat.nn_pruning"):
            removed, heads = method.coordinator.compile_model(model)
        after = model(**batch).logits
    assert (removed, heads) == (0, 8)
    assert "1 of 8 attention heads are all zero" in caplog.text
    assert torch.allclose(before, after, atol=1e-6)  # keeping the head is exact
    assert all(type(linear) is nn.Linear for _, linear in encoder_linears(model))


def test_shim_topk_by_selection_gives_nn_pruning_topk_masks_and_gradients(nnp):
    from nn_pruning.modules.binarizer import TopKBinarizer as original

    fast = masked_nn(nnp).TopKBinarizer
    assert fast is nnp.TopKBinarizer and fast is not original and issubclass(fast, original)
    assert fast.backward is original.backward
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(48, 40, generator=gen)
    for threshold in (0.0, 0.01, 0.3, 0.5, 0.51, 0.77, 0.999, 1.0):
        expected = original.apply(scores, threshold)
        assert torch.equal(fast.apply(scores, threshold), expected), threshold
    ties = torch.zeros(48, 40)  # constant init: only the count is defined, and it is the same
    for threshold in (0.3, 0.7):
        assert fast.apply(ties, threshold).sum() == original.apply(ties, threshold).sum() == int(threshold * 1920)
    grads = []
    for binarizer in (original, fast):
        s = scores.clone().requires_grad_(True)
        (binarizer.apply(s, 0.4) * torch.arange(1920.0).view(48, 40)).sum().backward()
        grads.append(s.grad)
    assert torch.equal(grads[0], grads[1])  # straight-through, nn_pruning's backward


def test_shim_mask_module_does_not_copy_element_masks(nnp):
    module = masked_nn(nnp)
    original = module.MaskModule.__mro__[1]
    assert module.MaskModule is not original and original.__module__ == "nn_pruning.modules.masked_nn"
    mask = torch.rand(6, 4)
    assert module.MaskModule.expand_mask(mask, 1, 1) is mask
    assert torch.equal(original.expand_mask(mask, 1, 1), mask)  # what the copy it skips contains
    assert torch.equal(module.MaskModule.expand_mask(mask, 2, 3), original.expand_mask(mask, 2, 3))
    _method, model, _ctx = prepared()
    assert all(type(m.mask_module) is module.MaskModule for _, m in masked_linears(nnp, model))


def test_no_shim_needed_for_the_trainer_mixin(nnp):
    # sparse_trainer imports AdamW from transformers.optimization (gone in transformers 5); the suite never
    # imports it, so it is not shimmed and transformers is left alone.
    import transformers.optimization

    assert not hasattr(transformers.optimization, "AdamW")
    assert "nn_pruning.sparse_trainer" not in sys.modules


# ----- the method ------------------------------------------------------------------------------


def test_prepare_puts_nn_pruning_masked_linears_and_the_score_learning_rate_in_place(nnp):
    method, model, ctx = prepared()
    patched = masked_linears(nnp, model)
    assert len(patched) == 6 * 2 and nnp.MaskedLinear.__module__ == "nn_pruning.modules.masked_nn"
    for _name, module in patched:
        assert module.args.method == "topK" and (module.args.block_rows, module.args.block_cols) == (1, 1)
        assert not module.args.bias_mask
        assert scores_of(module).shape == module.weight.shape and not scores_of(module).any()  # constant 0
    assert method.threshold == 1.0 and method.args.final_threshold == pytest.approx(
        kept_fraction_for_budget(ctx.reference, 0.5)
    )
    attn = model.bert.encoder.layer[1].attention.self
    assert attn.query._forward_hooks and attn.key._forward_hooks  # the distiller hooks the modules that run
    groups = method.param_groups(model, 5e-5, 0.01)
    score_ids = {id(scores_of(m)) for _, m in patched}
    assert {id(p) for p in groups[0]["params"]} == score_ids
    assert groups[0]["lr"] == 1e-2 and groups[0]["weight_decay"] == 0.0
    assert all(id(p) not in score_ids and g["lr"] == 5e-5 for g in groups[1:] for p in g["params"])
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)


def test_scores_learn_movement_through_nn_pruning_straight_through_mask(nnp):
    method, model, _ctx = prepared(distill=False)
    with torch.no_grad():
        for _name, module in masked_linears(nnp, model):
            scores_of(module).normal_()
    method.coordinator.schedule_threshold(STEPS // 2, STEPS, 0, training=True)  # halfway: some weights masked
    batch = batches(1)[0]
    model.train()(**batch).loss.backward()
    for name, module in masked_linears(nnp, model):
        kept = module.mask_module(module.weight, method.threshold).bool()
        assert 0 < kept.sum() < kept.numel(), name
        score_grad, weight_grad, weight = scores_of(module).grad, module.weight.grad, module.weight.detach()
        # dL/dS = W * dL/dW' (the movement), for kept and for pruned weights alike; dL/dW = 0 where pruned
        assert torch.allclose(score_grad[kept], (weight_grad * weight)[kept], atol=1e-9)
        assert (weight_grad[~kept] == 0).all() and score_grad[~kept].abs().sum() > 0


def test_training_follows_the_shared_schedule_through_nn_pruning_and_masks_every_forward(nnp):
    method = movement()
    model = tiny()
    # 10 steps: dense through step 2, cubic ramp to step 6, then 4 steps at the final fraction.
    ctx = context(model, schedule=PruningSchedule(warmup=0.2, cooldown=0.4))
    model = method.prepare(model, ctx).train()
    keep = kept_fraction_for_budget(ctx.reference, 0.5)
    step = TrainStep(model, method, ctx, TrainConfig(batch_size=8, learning_rate=1e-3))
    patched = masked_linears(nnp, model)
    thresholds, nnz_ok = [method.threshold], []
    for batch in batches():
        used = thresholds[-1]
        step(batch)  # forward with `used`, optimizer step, on_step_end -> the next threshold
        nnz_ok.append(all(m.mask_nnz == int(used * m.weight.numel()) for _, m in patched))
        thresholds.append(method.threshold)
    assert all(nnz_ok)
    assert thresholds[:3] == [1.0, 1.0, 1.0]  # steps 0..2: dense warm-up
    assert thresholds[-5:] == [pytest.approx(keep)] * 5  # steps 6..10: cool-down at the final fraction
    middle = thresholds[3:6]
    assert all(a > b for a, b in zip([1.0, *middle], [*middle, keep], strict=True))  # cubic, decreasing
    # The same curve as the suite's schedule (kept fraction = 1 - sparsity) at every step.
    shared = [1.0 - ctx.schedule.sparsity_at(t, STEPS, 1.0 - keep) for t in range(STEPS + 1)]
    assert thresholds == [pytest.approx(v) for v in shared]
    assert all(scores_of(m).abs().sum() > 0 for _, m in patched)  # the scores moved off their 0 init


def test_finalize_bakes_nn_pruning_final_masks_into_plain_linears_within_budget(nnp):
    method, model, ctx = prepared()
    step = TrainStep(model.train(), method, ctx, TrainConfig(batch_size=8, learning_rate=1e-3))
    for batch in batches():
        step(batch)
    keep = method.args.final_threshold
    model.eval()
    expected = {name: m.mask_module(m.weight, keep).detach().clone() for name, m in masked_linears(nnp, model)}
    probe = batches(1, seed=5)[0]
    with torch.no_grad():
        before = model(**probe).logits
    final = method.finalize(model, ctx)
    assert isinstance(final, PreTrainedModel)
    assert set(final.state_dict()) == set(tiny().state_dict())  # no mask scores left, plain HF layout
    for name, linear in encoder_linears(final):
        assert type(linear) is nn.Linear, name
        assert torch.equal(linear.weight == 0, expected[name] == 0), name  # the zeros are nn_pruning's mask
        assert int(torch.count_nonzero(linear.weight)) == int(keep * linear.weight.numel())
        assert not linear._forward_hooks  # the distiller let go
    with torch.no_grad():
        assert torch.allclose(final(**probe).logits, before, atol=1e-6)
    fraction = budget_fraction(count_flops(final, SEQ), ctx.reference)
    assert ctx.budget.allows(fraction) and fraction > 0.5 * 0.97  # met, and not by much more than needed


def test_config_switches_distillation_and_regularization():
    method, model, ctx = prepared(distill=False)
    assert method.forward_kwargs() == {} and method.distiller is None
    batch = batches(1)[0]
    outputs = model(**batch)
    assert method.training_loss(model, batch, outputs, ctx) is outputs.loss
    distilled, model, ctx = prepared()
    assert distilled.forward_kwargs() == {"output_hidden_states": True} and distilled.distiller is not None
    method, model, ctx = prepared(distill=False, regularization="l1", regularization_lambda=2.0)
    outputs = model(**batch)
    regu, lam, _ = method.coordinator.regularization_loss(model)
    assert lam == pytest.approx(2.0 / method.args.final_threshold)  # nn_pruning: lambda x threshold / final
    loss = method.training_loss(model, batch, outputs, ctx).detach()
    assert float(loss) == pytest.approx(float((outputs.loss + lam * regu).detach()))
    with pytest.raises(ValueError):
        movement(regularization="l2")


def test_teacher_is_left_untouched():
    method, model, ctx = prepared()
    teacher_state = copy.deepcopy(ctx.teacher.state_dict())
    step = TrainStep(model.train(), method, ctx, TrainConfig(batch_size=8, learning_rate=1e-3))
    for batch in batches(3):
        step(batch)
    method.finalize(model, ctx)
    assert all(torch.equal(v, ctx.teacher.state_dict()[k]) for k, v in teacher_state.items())
    for layer in ctx.teacher.bert.encoder.layer:  # the distiller's query/key hooks are gone
        assert not layer.attention.self.query._forward_hooks and not layer.attention.self.key._forward_hooks
