from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from suite.api import Budget
from suite.errors import SuiteError
from suite.flops import count_flops
from suite.sizing import DenseShape, layer_flops, shape_fraction, student_shape
from tests.builders.context import run_context
from tests.builders.models import minilm_shaped


@pytest.fixture(scope="module")
def minilm_reference():
    config = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
    with torch.device("meta"):
        return count_flops(BertForSequenceClassification(config), 128)


def test_layer_flops_matches_the_counter(minilm_reference):
    fixed = 2 * (384 * 384 + 384 * 2)  # pooler + classifier
    assert minilm_reference.dense == 6 * layer_flops(384, 1536, 128) + fixed


@pytest.mark.parametrize(
    ("budget", "shape"),
    [(1.0, DenseShape(6, 1536)), (0.5, DenseShape(3, 1536))],
)
def test_whole_layers_where_they_use_the_budget(minilm_reference, budget, shape):
    assert student_shape(minilm_reference, Budget(budget), 6, 384, 1536) == shape


def test_one_more_narrowed_layer_where_whole_layers_leave_budget_unused(minilm_reference):
    # One whole layer is 0.167 of the model, so at 0.25 whole layers would leave a third unused.
    # Two layers without FFN cost 2 x 176,160,768 FLOPs, each shared FFN neuron 2 x 196,608, pooler +
    # classifier 296,448: (0.25 x 2,869,200,384 - 296,448 - 352,321,536) // 393,216 = 927.
    shape = student_shape(minilm_reference, Budget(0.25), 6, 384, 1536)
    assert shape == DenseShape(2, 927)
    assert 0.99 < shape_fraction(minilm_reference, 2, 384, 927) / 0.25 <= 1.0


def test_one_narrow_layer_below_one_layer_of_budget(minilm_reference):
    shape = student_shape(minilm_reference, Budget(0.1), 6, 384, 1536)
    # 0.1 x 2,869,200,384 = 286,920,038 FLOPs; one layer without FFN costs
    # 2 x 128 x (4 x 384^2) + 4 x 128^2 x 384 = 176,160,768 and each FFN neuron 4 x 128 x 384 = 196,608,
    # pooler + classifier 296,448: (286,920,038 - 176,160,768 - 296,448) // 196,608 = 561
    assert shape == DenseShape(1, 561)
    with pytest.raises(SuiteError, match="below one encoder layer without FFN"):
        student_shape(minilm_reference, Budget(0.05), 6, 384, 1536)


@pytest.mark.parametrize("name", ["distill", "layers"])
def test_structured_students_use_at_least_90_percent_of_each_budget_on_minilm(minilm_reference, name):
    """The method end to end (prepare on MiniLM-L6 shapes with random weights): the student it
    builds is physically smaller and spends 90-101% of every budget it can reach."""
    import copy

    from suite.registry import get_method

    teacher = minilm_shaped(0, vocab_size=128).eval()
    used = {}
    for budget in (0.5, 0.25, 0.1):
        method = get_method(name)
        if method.unreachable(teacher, minilm_reference, Budget(budget)):
            used[budget] = None
            continue
        ctx = run_context(minilm_reference, budget=budget, teacher=teacher)
        student = method.prepare(copy.deepcopy(teacher), ctx)
        used[budget] = count_flops(student, 128).effective / minilm_reference.dense / budget
        method.finalize(student, ctx)
    for budget, fraction in used.items():
        if fraction is not None:
            assert 0.9 <= fraction <= 1.01, (name, budget, fraction)
    # layer dropping cannot go below one whole layer (0.167 of MiniLM-L6); distill reaches 0.1
    assert (used[0.1] is None) == (name == "layers")
