"""The `heads` method: its budget plan, the textpruner adapter (one test per shim), and prepare()."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from methods.heads import HeadPruningConfig, plan_for_budget
from suite.api import RunContext
from suite.compat.textpruner import iterative_prune, quiet_progress, shim_report, sync_linear_features
from suite.distill import KDWeights
from suite.errors import SuiteError
from suite.flops import count_flops
from suite.registry import get_method
from suite.structure import prune_ffn_neurons, prune_heads, structure_of
from tests.builders.context import run_context
from tests.builders.models import tiny_bert

N = 128
H, HEADS, DH, FFN, LAYERS = 64, 4, 16, 128, 2


def tiny(layers: int = LAYERS, **overrides) -> BertForSequenceClassification:
    shape = dict(hidden_size=H, num_hidden_layers=layers, num_attention_heads=HEADS, intermediate_size=FFN)
    return tiny_bert(attn="eager", initializer_range=0.2, **{**shape, **overrides})


def batches(count: int = 2, size: int = 6) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(2)
    out = []
    for _ in range(count):
        ids = torch.randint(0, 100, (size, 10), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, 6:] = 0
        labels = torch.randint(0, 2, (size,), generator=generator)
        out.append(
            {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": mask, "labels": labels}
        )
    return out


@torch.no_grad()
def logits(model, batch) -> torch.Tensor:
    return model(**{k: v for k, v in batch.items() if k != "labels"}).logits


# --- the budget plan ---------------------------------------------------------------------------


def test_plan_for_tiny_at_half_budget_matches_the_flop_counter():
    model = tiny()
    reference = count_flops(model, N).dense
    plan = plan_for_budget(model, reference, 0.5, N)
    # k = (0.5 R - fixed) / prunable = 0.49983: 2 of 4 heads; the FFN absorbs the rest: 63 of 128
    assert (plan.heads, plan.ffn) == (2, 63)
    prune_heads(model, {i: [0, 1] for i in range(LAYERS)})
    prune_ffn_neurons(model, {i: list(range(FFN - 63)) for i in range(LAYERS)})
    assert count_flops(model, N).dense == plan.flops
    assert plan.fraction <= 0.5


@pytest.mark.parametrize("budget", [0.05, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_plan_meets_the_budget_and_splits_evenly_on_bert_base(budget):
    with torch.device("meta"):
        model = BertForSequenceClassification(BertConfig(num_labels=2))
    reference = count_flops(model, N).dense
    plan = plan_for_budget(model, reference, budget, N)
    assert plan.fraction <= budget
    assert budget - plan.fraction < 2 * 2 * 2 * N * 768 * 12 / reference  # within two neurons per layer
    assert plan.heads == max(1, round(budget * 12))  # same fraction of heads as of the budget


def test_plan_refuses_a_budget_below_one_head_and_one_neuron_per_layer():
    model = tiny()
    with pytest.raises(SuiteError, match="cannot be met by removing heads and FFN neurons"):
        plan_for_budget(model, count_flops(model, N).dense, 0.1, N)


# --- the textpruner adapter: one test per shim -------------------------------------------------


def test_textpruner_needs_prune_heads_and_the_adapter_removes_it_afterwards(tmp_path):
    """Shim 1: without `prune_heads` textpruner's last step fails on transformers 5."""
    import textpruner

    model = tiny()
    pruner = textpruner.TransformerPruner(model, general_config=textpruner.GeneralConfig("cpu", str(tmp_path)))
    head_mask = torch.ones(LAYERS, HEADS)
    head_mask[0, 1] = 0
    with pytest.raises(AttributeError, match="prune_heads"):
        pruner.prune_with_masks(head_mask=head_mask)

    model = tiny()
    iterative_prune(model, batches(), heads_per_layer=2, ffn_per_layer=100, n_iters=2)
    assert structure_of(model)["heads"] == [2, 2]
    assert "prune_heads" not in vars(model) and "prune_heads" not in vars(model.bert)


def test_textpruner_ffn_removal_leaves_stale_feature_counts_and_the_adapter_fixes_them(tmp_path):
    """Shim 2: textpruner swaps in narrower FFN weights but not nn.Linear.in/out_features."""
    import textpruner

    model = tiny()
    pruner = textpruner.TransformerPruner(model, general_config=textpruner.GeneralConfig("cpu", str(tmp_path)))
    ffn_mask = torch.ones(LAYERS, FFN)
    ffn_mask[:, :28] = 0
    pruner.prune_with_masks(ffn_mask=ffn_mask)
    dense = model.bert.encoder.layer[0].intermediate.dense
    assert dense.weight.shape[0] == 100 and dense.out_features == FFN  # stale
    fixed = sync_linear_features(model)
    assert sorted(fixed) == sorted(
        f"bert.encoder.layer.{i}.{name}.dense" for i in range(LAYERS) for name in ("intermediate", "output")
    )
    assert structure_of(model)["ffn"] == [100, 100]
    assert sync_linear_features(model) == []


def test_textpruner_progress_bars_are_silenced(capfd):
    """Shim 3: no tqdm bar from textpruner's importance loop; the module's tqdm is restored."""
    import textpruner.pruners.transformer_pruner as module

    original = module.tqdm
    with quiet_progress():
        assert module.tqdm is not original
    assert module.tqdm is original
    iterative_prune(tiny(), batches(), heads_per_layer=3, ffn_per_layer=64, n_iters=1)
    assert "Calculating IS" not in capfd.readouterr().err
    assert len(shim_report()["shims"]) == 3


def test_iterative_prune_equals_masking_with_textpruners_masks():
    model = tiny()
    original = copy.deepcopy(model)
    result = iterative_prune(model, batches(), heads_per_layer=2, ffn_per_layer=48, n_iters=3)
    assert result.head_mask.sum(-1).tolist() == [2, 2] and result.ffn_mask.sum(-1).tolist() == [48, 48]
    assert structure_of(model)["heads"] == [2, 2] and structure_of(model)["ffn"] == [48, 48]
    with torch.no_grad():
        for i, layer in enumerate(original.bert.encoder.layer):
            columns = result.head_mask[i].repeat_interleave(DH)
            layer.attention.output.dense.weight.mul_(columns)
            layer.output.dense.weight.mul_(result.ffn_mask[i])
    batch = batches(1)[0]
    torch.testing.assert_close(logits(model, batch), logits(original, batch), rtol=1e-5, atol=1e-5)


# --- the method --------------------------------------------------------------------------------


def context(teacher, budget: float = 0.5) -> RunContext:
    return run_context(
        teacher, budget=budget, total_steps=2, flop_seq_len=N, teacher=teacher, calibration_batches=batches()
    )


def test_prepare_prunes_the_teacher_copy_it_is_given_and_distils_without_the_attention_term():
    teacher = tiny().requires_grad_(False)
    before = copy.deepcopy(teacher.state_dict())
    method = get_method("heads")
    method.config = dataclasses.replace(method.config, n_iters=2)
    assert method.start == "teacher"  # the harness hands prepare() a trainable copy of the teacher
    ctx = context(teacher)
    given = copy.deepcopy(teacher)
    student = method.prepare(given, ctx)
    assert student is given and student is not teacher
    assert structure_of(student)["heads"] == [2, 2] and structure_of(student)["ffn"] == [63, 63]
    assert all(p.requires_grad for p in student.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # teacher untouched
    assert method.distiller.weights.attention == 0.0 and method.distiller.student_scores is None
    student.train()
    batch = batches(1)[0]
    outputs = student(**batch, **method.forward_kwargs())
    loss = method.training_loss(student, batch, outputs, ctx)
    loss.backward()
    assert torch.isfinite(loss)
    final = method.finalize(student, ctx)
    assert count_flops(final, N).dense / ctx.reference.dense <= 0.5
    assert "prune_heads" not in vars(final)


def test_start_from_model_prunes_the_given_model():
    teacher = tiny().requires_grad_(False)
    method = get_method("heads")
    method.config = HeadPruningConfig(start_from="model", n_iters=1, distill=False)
    assert method.start == "pretrained"
    given = tiny()
    student = method.prepare(given, context(teacher, budget=0.75))
    assert student is given and structure_of(student)["heads"] == [3, 3]
    assert method.forward_kwargs() == {}


def test_prepare_refuses_an_unreachable_budget():
    teacher = tiny().requires_grad_(False)
    with pytest.raises(SuiteError, match="cannot be met"):
        get_method("heads").prepare(tiny(), context(teacher, budget=0.1))


def test_config_is_validated():
    with pytest.raises(ValueError, match="start_from"):
        HeadPruningConfig(start_from="scratch")
    with pytest.raises(ValueError, match="attention"):
        HeadPruningConfig(kd=KDWeights())
    assert dataclasses.asdict(HeadPruningConfig())["kd"]["attention"] == 0.0
