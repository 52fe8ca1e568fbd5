from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification

from suite.distill import AttentionScores, Distiller, KDWeights, soft_cross_entropy
from tests.builders.context import run_context
from tests.builders.models import tiny_bert


def tiny(attn: str = "sdpa", num_labels: int = 2) -> BertForSequenceClassification:
    return tiny_bert(attn=attn, num_labels=num_labels, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def batch(labels=(0, 1)):
    ids = torch.randint(5, 100, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0  # padding in the second example
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor(labels)}


def test_recomputed_scores_are_the_pre_softmax_attention_scores():
    model = tiny("eager")
    recorder = AttentionScores(model)
    b = batch()
    out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_attentions=True)
    scores = recorder.scores(b["attention_mask"])
    keep = b["attention_mask"][:, None, None, :].bool()
    for s, probs in zip(scores, out.attentions, strict=True):
        assert (s.masked_select(~keep.expand_as(s)) == 0).all()  # padded keys zeroed
        recomputed = torch.softmax(s.masked_fill(~keep, float("-inf")), dim=-1)
        assert torch.allclose(recomputed, probs, atol=1e-5)


def test_identical_student_has_zero_feature_loss_and_teacher_entropy_logit_loss():
    teacher = tiny()
    student = copy.deepcopy(teacher)
    distiller = Distiller(student, teacher, KDWeights(), regression=False)
    b = batch()
    outputs = student(**b, output_hidden_states=True)
    _total, parts = distiller.loss(b, outputs)
    assert parts["hidden"] == pytest.approx(0.0, abs=1e-10)
    assert parts["attention"] == pytest.approx(0.0, abs=1e-10)
    probs = torch.softmax(outputs.logits.detach(), -1)
    entropy = float(-(probs * probs.log()).sum(-1).mean())
    assert parts["logits"] == pytest.approx(entropy, rel=1e-5)
    distiller.close()


def test_gradients_reach_the_student_only_and_regression_uses_gold_labels():
    teacher = tiny(num_labels=1)
    student = tiny(num_labels=1)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.01 * torch.randn_like(p))
    teacher.requires_grad_(False)
    distiller = Distiller(student, teacher, KDWeights(), regression=True)
    b = batch(labels=(1.5, 4.0))
    b["labels"] = b["labels"].float()
    outputs = student(**b, output_hidden_states=True)
    total, parts = distiller.loss(b, outputs)
    expected = F.mse_loss(outputs.logits.squeeze(-1), b["labels"])
    assert parts["logits"] == pytest.approx(float(expected.detach()), rel=1e-5)
    total.backward()
    assert student.bert.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_soft_cross_entropy_matches_kl_plus_entropy():
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    p = torch.softmax(t, -1)
    kl = F.kl_div(torch.log_softmax(s, -1), p, reduction="batchmean")
    entropy = -(p * p.log()).sum(-1).mean()
    assert soft_cross_entropy(s, t) == pytest.approx(float(kl + entropy), rel=1e-5)


def test_uniform_layer_map_and_a_shallower_student():
    from suite.distill import uniform_layer_map

    assert uniform_layer_map(6, 6) == [1, 2, 3, 4, 5, 6]
    assert uniform_layer_map(3, 6) == [2, 4, 6]
    assert uniform_layer_map(1, 6) == [6]
    with pytest.raises(ValueError):
        uniform_layer_map(7, 6)
    teacher = tiny()
    student = copy.deepcopy(teacher)
    student.bert.encoder.layer = student.bert.encoder.layer[1:]  # the teacher's second layer only
    distiller = Distiller(student, teacher, KDWeights(), regression=False)
    assert distiller.layer_map == [2]
    b = batch()
    _total, parts = distiller.loss(b, student(**b, output_hidden_states=True))
    # the student's only layer is compared with the teacher's last layer, the embeddings with its embeddings
    assert parts["hidden"] > 0 and parts["attention"] > 0
    same = copy.deepcopy(teacher)
    same.bert.encoder.layer = same.bert.encoder.layer[:1]
    assert Distiller(same, teacher, KDWeights(), regression=False, layer_map=[1]).layer_map == [1]
    _total, parts = Distiller(same, teacher, KDWeights(), regression=False, layer_map=[1]).loss(
        b, same(**b, output_hidden_states=True)
    )
    assert parts["hidden"] == pytest.approx(0.0, abs=1e-10) and parts["attention"] == pytest.approx(0.0, abs=1e-10)


def test_the_distill_student_starts_from_the_teacher_layers_it_is_matched_to():
    import copy

    from methods.distill import SmallDenseStudent, student_layers
    from suite.compute.models import load_model
    from suite.flops import count_flops
    from suite.registry import get_method
    from suite.spec.tasks import get_task

    # MiniLM-L6-sized depths: 3 of 6 layers learn (and now start from) teacher layers 2, 4, 6.
    assert student_layers(3, 6) == [1, 3, 5] and student_layers(1, 6) == [5] and student_layers(6, 6) == list(range(6))
    assert student_layers(3, 6, init="first") == [0, 2, 4]  # DistilBERT's, selectable by the knob
    task = get_task("sst2")
    teacher = load_model("tiny", task, seed=1).eval()  # 2 layers
    method = get_method("distill")
    assert isinstance(method, SmallDenseStudent)
    reference = count_flops(load_model("tiny", task, seed=0), 128)
    ctx = run_context(reference, task=task, teacher=copy.deepcopy(teacher))
    student = method.prepare(copy.deepcopy(teacher), ctx)
    kept = len(student.bert.encoder.layer)
    assert kept == 1  # one of two layers: the old rule kept the first, the mapping asks for the second
    assert method.distiller.layer_map == [t + 1 for t in student_layers(kept, 2)]
    for index, teacher_index in enumerate(student_layers(kept, 2)):
        mine = student.bert.encoder.layer[index].attention.self.query.weight
        theirs = teacher.bert.encoder.layer[teacher_index].attention.self.query.weight
        assert torch.equal(mine, theirs)  # initialised from the layer it is distilled towards
    method.finalize(student, ctx)


def _parts(student, teacher, weights: KDWeights, b) -> dict[str, float]:
    """The loss parts of one forward pass (the distiller's hooks must see the forward)."""
    distiller = Distiller(student, teacher, weights, regression=False)
    outputs = student(**b, output_hidden_states=True)
    parts = distiller.loss(b, outputs)[1]
    distiller.close()
    return parts


def test_the_hard_label_term_is_the_task_loss_and_off_by_default():
    teacher, student = tiny(), tiny()
    b = batch()
    assert "hard" not in _parts(student, teacher, KDWeights(), b)
    parts = _parts(student, teacher, KDWeights(hard=0.5), b)
    with torch.no_grad():
        expected = 0.5 * float(F.cross_entropy(student(**b).logits, b["labels"]))
    assert parts["hard"] == pytest.approx(expected, rel=1e-5)


def test_attention_padded_to_a_fixed_length_weighs_by_the_batch_length_squared():
    teacher, student = tiny(), tiny()
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    b = batch()  # 7 tokens
    as_batched = _parts(student, teacher, KDWeights(), b)["attention"]
    padded = _parts(student, teacher, KDWeights(attention_pad_to=14), b)["attention"]
    assert as_batched > 0 and padded == pytest.approx(as_batched / 4, rel=1e-5)  # (7 / 14)^2
    with pytest.raises(ValueError, match="attention_pad_to must be in"):
        KDWeights(attention_pad_to=-1)
