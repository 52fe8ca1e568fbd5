from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertForSequenceClassification

from suite.compute.latency import CSRLinear, measure_latency, with_csr_linears
from suite.sparsity import EncoderMasks
from suite.structure import drop_layers
from tests.builders.models import tiny_bert


def tiny() -> BertForSequenceClassification:
    return tiny_bert(vocab_size=2000)


def test_csr_linear_matches_dense_linear():
    linear = nn.Linear(16, 8)
    with torch.no_grad():
        linear.weight[:, ::2] = 0.0
    x = torch.randn(3, 5, 16)
    assert torch.allclose(CSRLinear(linear)(x), linear(x), atol=1e-5)


def test_csr_model_gives_the_same_logits_and_both_timings_are_kept():
    model = tiny()
    EncoderMasks(model).prune_by_magnitude(0.9)
    sparse = with_csr_linears(model)
    assert sum(isinstance(m, CSRLinear) for m in sparse.modules()) == 12
    ids = torch.randint(1000, 2000, (2, 9))
    with torch.no_grad():
        assert torch.allclose(sparse(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-5)
    latency = measure_latency(model, 16, (1, 2), warmup=1, repeats=1)
    assert latency["csr"] is not None and latency["kernel"] in ("dense", "csr")
    assert latency["batch_2"] == latency[latency["kernel"]]["batch_2"]


def test_dense_models_are_timed_with_dense_kernels_only():
    latency = measure_latency(tiny(), 16, (1,), warmup=1, repeats=1)
    assert latency["kernel"] == "dense" and latency["csr"] is None and latency["batch_1"] > 0


def test_reference_is_timed_beside_the_model_and_gives_the_speedup():
    reference = tiny()
    model = tiny()
    drop_layers(model, [0])  # keep one of two layers: a real, if noisy, speedup
    latency = measure_latency(model, 16, (1, 4), warmup=1, repeats=3, reference=reference)
    assert set(latency["reference"]) == set(latency["speedup"]) == {"batch_1", "batch_4"}
    for key in ("batch_1", "batch_4"):
        assert latency["speedup"][key] == pytest.approx(latency["reference"][key] / latency[key])
    assert "reference" not in measure_latency(model, 16, (1,), warmup=0, repeats=1)


def test_the_architecture_key_follows_shapes_and_sparse_nonzeros_not_values():
    from suite.compute.latency_memo import architecture_key

    a, b = tiny(), tiny()
    with torch.no_grad():
        for p in b.parameters():
            p.mul_(2.0)  # other values, same shapes
    assert architecture_key(a) == architecture_key(b)
    shallower = tiny()
    drop_layers(shallower, [0])
    assert architecture_key(shallower) != architecture_key(a)
    # Sparse enough for CSR kernels: the per-matrix nonzero count is part of the key.
    sparse_a, sparse_b = tiny(), tiny()
    EncoderMasks(sparse_a).prune_by_magnitude(0.9)
    EncoderMasks(sparse_b).prune_by_magnitude(0.9)
    with torch.no_grad():
        for p in sparse_b.parameters():
            p.neg_()  # the same nonzero counts
    assert architecture_key(sparse_a) == architecture_key(sparse_b)
    sparser = tiny()
    EncoderMasks(sparser).prune_by_magnitude(0.95)
    assert architecture_key(sparser) != architecture_key(sparse_a)
    assert architecture_key(a, reference=a) != architecture_key(a)


def test_the_memo_times_each_architecture_once_and_says_which_cell_it_reuses():
    from suite.compute.latency_memo import LatencyMemo

    memo = LatencyMemo(seq_len=16, batch_sizes=(1, 2), repeats=1)
    reference = tiny()
    first = memo.measure(tiny(), "sst2/dense/b1/s0", reference=reference)
    second = memo.measure(tiny(), "sst2/dense/b1/s1", reference=reference)
    assert first["reused"] is False and second["reused"] is True
    assert first["timed_in"] == second["timed_in"] == "sst2/dense/b1/s0"
    assert second["batch_2"] == first["batch_2"] and second["speedup"] == first["speedup"]
    second["speedup"]["batch_1"] = -1.0  # a reused dict is a copy: editing it leaves the memo alone
    assert memo.measure(tiny(), "x", reference=reference)["speedup"]["batch_1"] > 0
    other = tiny()
    drop_layers(other, [0])
    third = memo.measure(other, "sst2/layers/b0.5/s0", reference=reference)
    assert third["reused"] is False and len(memo) == 2


def test_a_csr_linear_with_every_input_pruned_away_gives_the_bias():
    # A structured method (CoFi) can remove a layer's whole FFN: the matrix keeps its outputs, no inputs.
    import warnings

    import torch
    from torch import nn

    from suite.compute.latency import CSRLinear

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "initializing zero-element tensors is a no-op"
        linear = nn.Linear(0, 4)
    x = torch.randn(2, 3, 0)
    assert torch.equal(CSRLinear(linear)(x), linear(x))
