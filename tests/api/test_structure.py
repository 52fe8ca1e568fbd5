"""Physical removal of heads, FFN neurons and layers: same predictions as masking, FLOPs by hand,
save/load round trip, and the transformers 4 style `model.prune_heads` that textpruner calls."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import BertForSequenceClassification

from suite.flops import count_flops
from suite.structure import (
    STRUCTURE_FILE,
    drop_layers,
    install_prune_heads,
    load_pruned,
    prune_ffn_neurons,
    prune_heads,
    save_pruned,
    structure_of,
    uninstall_prune_heads,
)
from tests.builders.models import tiny_bert

N = 128
H, HEADS, DH, FFN, LAYERS, LABELS = 64, 4, 16, 128, 2, 2
LINEAR_MACS_PER_LAYER = N * (4 * H * H + 2 * H * FFN)
ATTN_MACS_PER_LAYER = 2 * N * N * DH * HEADS
HEAD_MACS = H * H + H * LABELS
ATTN_IMPLEMENTATIONS = ["eager", "sdpa"]


def tiny(attn: str = "eager", layers: int = LAYERS) -> BertForSequenceClassification:
    shape = dict(hidden_size=H, num_hidden_layers=layers, num_attention_heads=HEADS, intermediate_size=FFN)
    # large weights (initializer_range 0.2): every head and neuron visibly moves the logits
    return tiny_bert(attn=attn, num_labels=LABELS, initializer_range=0.2, **shape)


def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 100, (3, 11), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # padding exercises the attention mask path of both implementations
    return {"input_ids": ids, "attention_mask": mask}


@torch.no_grad()
def logits(model) -> torch.Tensor:
    return model(**batch()).logits


def mask_heads(model, heads: dict[int, list[int]]) -> None:
    """Zero the attention-output columns that read the given heads' context (original numbering)."""
    with torch.no_grad():
        for layer, layer_heads in heads.items():
            dense = model.bert.encoder.layer[layer].attention.output.dense
            for h in layer_heads:
                dense.weight[:, h * DH : (h + 1) * DH] = 0.0


def mask_neurons(model, neurons: dict[int, list[int]]) -> None:
    with torch.no_grad():
        for layer, layer_neurons in neurons.items():
            model.bert.encoder.layer[layer].output.dense.weight[:, layer_neurons] = 0.0


def assert_same(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attn", ATTN_IMPLEMENTATIONS)
def test_removed_heads_equal_masked_heads(attn):
    model = tiny(attn)
    masked = copy.deepcopy(model)
    mask_heads(masked, {0: [0, 1, 2], 1: [3]})
    assert (logits(model) - logits(masked)).abs().max() > 1e-2  # the masked heads matter
    prune_heads(model, {0: [1, 2], 1: [3]})
    prune_heads(model, {0: [0]})  # current numbering: head 0 of the two left (original 0)
    assert_same(logits(model), logits(masked))
    attn_self = model.bert.encoder.layer[0].attention.self
    assert attn_self.query.out_features == attn_self.key.out_features == attn_self.value.out_features == DH
    assert attn_self.num_attention_heads == 1 and attn_self.all_head_size == DH
    assert model.bert.encoder.layer[0].attention.output.dense.in_features == DH
    assert structure_of(model)["heads"] == [1, 3]
    assert structure_of(model)["pruned_heads"] == [[0, 1, 2], [3]]


@pytest.mark.parametrize("attn", ATTN_IMPLEMENTATIONS)
def test_removing_every_head_of_a_layer_keeps_the_model_working(attn):
    model = tiny(attn)
    masked = copy.deepcopy(model)
    mask_heads(masked, {1: [0, 1, 2, 3]})
    prune_heads(model, {1: [0, 1, 2, 3]})
    assert_same(logits(model), logits(masked))
    assert model.bert.encoder.layer[1].attention.self.query.out_features == 0
    copied = copy.deepcopy(model)  # the headless forward is bound to the copy's own layer
    with torch.no_grad():
        copied.bert.encoder.layer[1].attention.output.dense.bias.add_(torch.linspace(-1, 1, H))
    assert (logits(copied) - logits(model)).abs().max() > 1e-3
    assert_same(logits(model), logits(masked))
    model.train()
    out = model(**batch(), labels=torch.tensor([0, 1, 0]), output_hidden_states=True)
    out.loss.backward()  # trainable: gradients flow through the headless layer's output bias
    assert len(out.hidden_states) == LAYERS + 1
    assert model.bert.encoder.layer[1].attention.output.dense.bias.grad is not None


@pytest.mark.parametrize("attn", ATTN_IMPLEMENTATIONS)
def test_removed_ffn_neurons_equal_masked_neurons(attn):
    model = tiny(attn)
    neurons = {0: list(range(0, FFN, 3)), 1: [5, 7, 100, 127]}
    masked = copy.deepcopy(model)
    mask_neurons(masked, neurons)
    assert (logits(model) - logits(masked)).abs().max() > 1e-2
    prune_ffn_neurons(model, neurons)
    assert_same(logits(model), logits(masked))
    assert structure_of(model)["ffn"] == [FFN - len(neurons[0]), FFN - 4]
    assert model.bert.encoder.layer[1].output.dense.in_features == FFN - 4


@pytest.mark.parametrize("attn", ATTN_IMPLEMENTATIONS)
def test_dropped_layers_equal_a_shallower_model(attn):
    model = tiny(attn, layers=3)
    shallow = tiny(attn, layers=2)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("bert.encoder.layer."):
            index = int(key.split(".")[3])
            if index == 1:
                continue
            key = key.replace(f"layer.{index}.", f"layer.{0 if index == 0 else 1}.", 1)
        state[key] = value
    shallow.load_state_dict(state)
    drop_layers(model, [0, 2])
    assert model.config.num_hidden_layers == 2
    assert [layer.attention.self.layer_idx for layer in model.bert.encoder.layer] == [0, 1]
    assert_same(logits(model), logits(shallow))
    with torch.no_grad():
        assert len(model(**batch(), output_hidden_states=True).hidden_states) == 3


def test_dense_flops_by_hand_after_removal():
    model = tiny()
    base = 2 * (LAYERS * (LINEAR_MACS_PER_LAYER + ATTN_MACS_PER_LAYER) + HEAD_MACS)
    assert count_flops(model, N).dense == base == 25_174_272

    prune_heads(model, {0: [1, 2]})  # layer 0 keeps 2 of 4 heads
    layer0 = N * (3 * H * 2 * DH + 2 * DH * H + 2 * H * FFN) + 2 * N * N * DH * 2
    expected = 2 * (layer0 + LINEAR_MACS_PER_LAYER + ATTN_MACS_PER_LAYER + HEAD_MACS)
    assert count_flops(model, N).dense == expected

    prune_ffn_neurons(model, {0: list(range(80)), 1: list(range(80))})  # both layers keep 48
    layer0 = N * (4 * H * 2 * DH + 2 * H * 48) + 2 * N * N * DH * 2
    layer1 = N * (4 * H * H + 2 * H * 48) + ATTN_MACS_PER_LAYER
    assert count_flops(model, N).dense == 2 * (layer0 + layer1 + HEAD_MACS)

    prune_heads(model, {1: [0, 1, 2, 3]})  # layer 1: no attention left, only the FFN
    layer1 = N * (2 * H * 48)
    assert count_flops(model, N).dense == 2 * (layer0 + layer1 + HEAD_MACS)

    drop_layers(model, [1])
    assert count_flops(model, N).dense == 2 * (layer1 + HEAD_MACS)


@pytest.mark.parametrize("attn", ATTN_IMPLEMENTATIONS)
def test_save_load_round_trip(tmp_path, attn):
    model = tiny(attn, layers=3)
    prune_heads(model, {0: [1, 2], 2: [0, 1, 2, 3]})
    prune_ffn_neurons(model, {0: list(range(100)), 1: [3, 4]})
    drop_layers(model, [0, 2])
    before = logits(model)
    save_pruned(model, tmp_path)
    assert (tmp_path / STRUCTURE_FILE).is_file()
    loaded = load_pruned(tmp_path)
    assert type(loaded) is BertForSequenceClassification
    assert structure_of(loaded) == structure_of(model)
    assert structure_of(loaded)["pruned_heads"] == [[1, 2], [0, 1, 2, 3]]
    assert_same(logits(loaded), before)
    assert count_flops(loaded, N) == count_flops(model, N)
    with pytest.raises(Exception, match="mismatch"):  # plain from_pretrained refuses, never re-initialises
        BertForSequenceClassification.from_pretrained(tmp_path)


def test_load_pruned_reads_a_dense_checkpoint(tmp_path):
    model = tiny()
    model.save_pretrained(tmp_path)
    assert_same(logits(load_pruned(tmp_path)), logits(model))


def test_installed_prune_heads_has_transformers_4_semantics():
    model = tiny()
    masked = copy.deepcopy(model)
    install_prune_heads(model)
    model.prune_heads({0: [1, 2]})
    assert structure_of(model)["heads"] == [2, 4]
    # original numbering: head 1 is gone already and is ignored; head 3 is the second kept head
    model.bert.prune_heads({0: [1, 3], 1: []})
    assert structure_of(model)["pruned_heads"] == [[1, 2, 3], []]
    mask_heads(masked, {0: [1, 2, 3]})
    assert_same(logits(model), logits(masked))
    copied = copy.deepcopy(model)  # the method is bound to the copy, not to the original
    copied.prune_heads({1: [0]})
    assert structure_of(copied)["heads"] == [1, 3] and structure_of(model)["heads"] == [1, 4]
    uninstall_prune_heads(model)
    assert "prune_heads" not in vars(model) and "prune_heads" not in vars(model.bert)


def test_bad_indices_are_refused():
    model = tiny()
    with pytest.raises(IndexError, match="4 heads"):
        prune_heads(model, {0: [4]})
    with pytest.raises(IndexError, match="FFN neurons"):
        prune_ffn_neurons(model, {0: [FFN]})
    with pytest.raises(IndexError, match="layer 2"):
        prune_heads(model, {2: [0]})
    with pytest.raises(ValueError, match="duplicate"):
        drop_layers(model, [0, 0])
    assert structure_of(model)["heads"] == [HEADS, HEADS]


def test_a_bad_index_changes_nothing():
    model = tiny()
    with pytest.raises(IndexError):
        prune_heads(model, {0: [1], 1: [7]})
    with pytest.raises(IndexError):
        prune_ffn_neurons(model, {0: [1], 1: [-1]})
    assert structure_of(model)["heads"] == [HEADS, HEADS] and structure_of(model)["ffn"] == [FFN, FFN]
