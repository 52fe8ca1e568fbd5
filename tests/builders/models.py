"""The tiny random BERT classifiers the unit tests build (one builder, each test file's own shapes)."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification

TINY_SHAPE = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def tiny_bert(
    seed: int = 0, attn: str | None = None, eval_mode: bool = True, **config
) -> BertForSequenceClassification:
    """A random BERT classifier (2 labels unless `num_labels` says otherwise) with weights drawn
    from `seed`; `attn` picks the attention implementation ("eager" where a test reads attention
    probabilities or counts FLOPs of the plain matmuls)."""
    torch.manual_seed(seed)
    bert_config = BertConfig(**{**TINY_SHAPE, "num_labels": 2, **config})
    if attn is not None:
        bert_config._attn_implementation = attn
    model = BertForSequenceClassification(bert_config)
    return model.eval() if eval_mode else model


MINILM_SHAPE = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)


def minilm_shaped(seed: int = 0, **config) -> BertForSequenceClassification:
    """Random weights in MiniLM-L6's shapes (what FLOP counts and budgets on the real model depend on)."""
    torch.manual_seed(seed)
    return BertForSequenceClassification(BertConfig(**{**MINILM_SHAPE, **config}))
