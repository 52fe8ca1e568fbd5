"""The FLOP rule: checked against torch's FlopCounterMode and against numbers worked out by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertForSequenceClassification

from suite.flops import budget_fraction, count_flops, linear_compression
from tests.builders.models import tiny_bert

N = 128
# tiny: hidden 64, 4 heads of 16, FFN 128, 2 layers, 2 labels
H, HEADS, DH, FFN, LAYERS, LABELS = 64, 4, 16, 128, 2, 2
LINEAR_MACS_PER_LAYER = N * (4 * H * H + 2 * H * FFN)  # Q, K, V, attn-out, FFN in, FFN out
ATTN_MACS_PER_LAYER = 2 * N * N * DH * HEADS  # scores + context
HEAD_MACS = H * H + H * LABELS  # pooler + classifier on one token
DENSE = 2 * (LAYERS * (LINEAR_MACS_PER_LAYER + ATTN_MACS_PER_LAYER) + HEAD_MACS)


def tiny(attn: str = "eager", **overrides) -> BertForSequenceClassification:
    shape = dict(
        hidden_size=H, num_hidden_layers=LAYERS, num_attention_heads=HEADS, intermediate_size=FFN, num_labels=LABELS
    )
    return tiny_bert(attn=attn, **{**shape, **overrides})


def torch_count(model: nn.Module, seq_len: int) -> int:
    ids = torch.randint(0, model.config.vocab_size, (1, seq_len))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    return counter.get_total_flops()


def test_dense_matches_hand_computation():
    report = count_flops(tiny(), N)
    assert report.dense == DENSE == 25_174_272
    assert report.attention == 2 * LAYERS * ATTN_MACS_PER_LAYER
    assert report.effective == pytest.approx(report.dense, rel=1e-4)
    assert report.encoder_linear_weights == LAYERS * (4 * H * H + 2 * H * FFN)


@pytest.mark.parametrize(
    "shape",
    [dict(), dict(hidden_size=96, num_attention_heads=6, intermediate_size=200, num_hidden_layers=3, num_labels=3)],
)
@pytest.mark.parametrize("seq_len", [16, 128])
def test_dense_equals_flop_counter_mode_on_unpruned_models(shape, seq_len):
    model = tiny(**shape) if shape else tiny()
    assert count_flops(model, seq_len).dense == torch_count(model, seq_len)


def test_bert_base_is_22_3_gflops():
    config = BertConfig(num_labels=2)  # bert-base-uncased shapes
    with torch.device("meta"):
        model = BertForSequenceClassification(config)
    macs = 12 * (128 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 128 * 128 * 64 * 12) + 768 * 768 + 768 * 2
    report = count_flops(model, 128)
    assert report.dense == 2 * macs
    assert report.dense / 1e9 == pytest.approx(22.35, abs=0.01)


def test_masked_weights_reduce_effective_only():
    model = tiny()
    q = model.bert.encoder.layer[0].attention.self.query
    with torch.no_grad():
        q.weight[:, : 3 * H // 4] = 0.0  # 75% of this matrix
        for layer in model.bert.encoder.layer:
            layer.intermediate.dense.weight.fill_(1.0)  # no accidental zeros in the FFN
    before = count_flops(tiny(), N)
    report = count_flops(model, N)
    assert report.dense == DENSE
    expected_drop = 2 * 0.75 * N * H * H
    assert before.effective - report.effective == pytest.approx(expected_drop, rel=1e-3)


def test_fully_sparse_encoder_leaves_attention_and_heads():
    model = tiny()
    with torch.no_grad():
        for m in model.bert.encoder.modules():
            if isinstance(m, nn.Linear):
                m.weight.zero_()
        model.bert.pooler.dense.weight.fill_(1.0)
        model.classifier.weight.fill_(1.0)
    report = count_flops(model, N)
    assert report.effective == 2 * (LAYERS * ATTN_MACS_PER_LAYER + HEAD_MACS)
    assert report.encoder_linear_nonzero == 0
    reference = count_flops(tiny(), N)
    assert budget_fraction(report, reference) == pytest.approx(report.effective / DENSE)


def _shrink(linear: nn.Linear, in_features: int | None = None, out_features: int | None = None) -> nn.Linear:
    return nn.Linear(in_features or linear.in_features, out_features or linear.out_features)


def test_removed_heads_by_hand():
    model = tiny()
    layer = model.bert.encoder.layer[0]
    kept = 2  # of 4 heads
    for name in ("query", "key", "value"):
        setattr(layer.attention.self, name, _shrink(getattr(layer.attention.self, name), out_features=kept * DH))
    layer.attention.output.dense = _shrink(layer.attention.output.dense, in_features=kept * DH)
    layer0_linear = N * (3 * H * kept * DH + kept * DH * H + 2 * H * FFN)
    layer0_attn = 2 * N * N * DH * kept
    expected = 2 * (layer0_linear + layer0_attn + LINEAR_MACS_PER_LAYER + ATTN_MACS_PER_LAYER + HEAD_MACS)
    assert count_flops(model, N).dense == expected


def test_removed_ffn_neurons_by_hand():
    model = tiny()
    kept = 48
    for layer in model.bert.encoder.layer:
        layer.intermediate.dense = _shrink(layer.intermediate.dense, out_features=kept)
        layer.output.dense = _shrink(layer.output.dense, in_features=kept)
    per_layer = N * (4 * H * H + 2 * H * kept) + ATTN_MACS_PER_LAYER
    report = count_flops(model, N)
    assert report.dense == 2 * (LAYERS * per_layer + HEAD_MACS)
    reference = count_flops(tiny(), N)
    weights_kept = LAYERS * (4 * H * H + 2 * H * kept)
    assert linear_compression(report, reference) == pytest.approx(
        reference.encoder_linear_weights / weights_kept, rel=1e-3
    )


def test_removed_layer_by_hand():
    model = tiny()
    model.bert.encoder.layer = model.bert.encoder.layer[:1]
    assert count_flops(model, N).dense == 2 * (LINEAR_MACS_PER_LAYER + ATTN_MACS_PER_LAYER + HEAD_MACS)


def test_not_a_bert_model_is_rejected():
    with pytest.raises(TypeError, match="not a BERT-family model"):
        count_flops(nn.Linear(2, 2), N)


@pytest.mark.parametrize("seq_len", [1, 17, 64, 200])
def test_forward_flops_at_any_length_equals_counting_at_that_length(seq_len):
    from suite.flops import forward_flops_at

    model = tiny()
    assert forward_flops_at(count_flops(model, 128), seq_len) == pytest.approx(count_flops(model, seq_len).dense)


def test_training_flops_is_three_forwards_per_student_example_plus_teacher_forwards():
    from suite.flops import training_flops

    student, teacher = tiny(), tiny(num_hidden_layers=4)
    s, t = count_flops(student, 128), count_flops(teacher, 128)
    batches = {(8, 32): 3, (4, 64): 1}
    expected_student = 3 * (3 * 8 * count_flops(student, 32).dense + 4 * count_flops(student, 64).dense)
    assert training_flops(s, batches) == pytest.approx(expected_student)
    expected_teacher = 3 * 8 * count_flops(teacher, 32).dense + 4 * count_flops(teacher, 64).dense
    assert training_flops(s, batches, t, batches) == pytest.approx(expected_student + expected_teacher)


def test_masked_stand_ins_without_feature_attributes_are_counted_by_their_weight():
    model = tiny()
    expected = count_flops(model, 128)

    class MaskedStandIn(nn.Module):  # like a patched layer: a weight, no in/out_features
        def __init__(self, linear: nn.Linear) -> None:
            super().__init__()
            self.weight, self.bias = linear.weight, linear.bias

    layer = model.bert.encoder.layer[0]
    layer.attention.self.query = MaskedStandIn(layer.attention.self.query)
    assert count_flops(model, 128) == expected
