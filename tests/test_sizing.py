from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from suite.api import Budget
from suite.errors import SuiteError
from suite.flops import count_flops
from suite.sizing import DenseShape, layer_flops, student_shape


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
    [(1.0, DenseShape(6, 1536)), (0.5, DenseShape(3, 1536)), (0.25, DenseShape(1, 1536))],
)
def test_full_width_students(minilm_reference, budget, shape):
    assert student_shape(minilm_reference, Budget(budget), 6, 384, 1536) == shape


def test_one_narrow_layer_below_one_layer_of_budget(minilm_reference):
    shape = student_shape(minilm_reference, Budget(0.1), 6, 384, 1536)
    # 0.1 x 2,869,200,384 x 1.01 = 289,789,239 FLOPs; one layer without FFN costs
    # 2 x 128 x (4 x 384^2) + 4 x 128^2 x 384 = 176,160,768 and each FFN neuron 4 x 128 x 384 = 196,608,
    # pooler + classifier 296,448: (289,789,239 - 176,160,768 - 296,448) // 196,608 = 576
    assert shape == DenseShape(1, 576)
    with pytest.raises(SuiteError, match="below one encoder layer without FFN"):
        student_shape(minilm_reference, Budget(0.05), 6, 384, 1536)
