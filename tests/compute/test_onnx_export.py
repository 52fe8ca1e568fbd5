"""ONNX export of finalized models: every structural kind a method leaves, run on ONNX Runtime and
OpenVINO, gives PyTorch's fp32 logits (within 1e-4) at other batch sizes and lengths than it was
exported with, padding included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from suite.compute.engines import engines_for
from suite.compute.onnx_export import export_onnx, torch_logits
from suite.sparsity import magnitude_mask
from suite.structure import bypass_empty_blocks, drop_layers, prune_ffn_neurons, prune_heads, prune_hidden
from tests.builders.models import tiny_bert

SHAPE = dict(num_hidden_layers=3, vocab_size=1200)


def _zero_smallest(model: torch.nn.Module, sparsity: float = 0.9) -> None:
    """Unstructured sparsity baked into the weights, as a finalized magnitude-style model has it."""
    for name, parameter in model.named_parameters():
        if "encoder" in name and name.endswith("weight") and parameter.dim() == 2:
            keep = int(parameter.numel() * (1 - sparsity))
            with torch.no_grad():
                parameter.mul_(magnitude_mask(parameter, keep))


STRUCTURES = {
    "unpruned": lambda m: None,
    "heads, one layer left without any": lambda m: prune_heads(m, {0: [1, 2], 1: [0, 1, 2, 3]}),
    "FFN neurons, one layer left without any": lambda m: prune_ffn_neurons(m, {0: range(50), 2: range(64)}),
    "layers dropped": lambda m: drop_layers(m, [0, 2]),
    "hidden dimensions removed": lambda m: prune_hidden(m, range(0, 32, 2)),
    "unstructured zeros": _zero_smallest,
}


def _inputs(batch: int, length: int, padded: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch * 1000 + length)
    ids = rng.integers(1000, 1200, size=(batch, length), dtype=np.int64)
    mask = np.ones_like(ids)
    if padded:
        mask[0, length // 2 :] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("kind", list(STRUCTURES))
def test_the_exported_model_gives_pytorchs_logits_on_every_engine(kind, tmp_path):
    model = tiny_bert(seed=3, **SHAPE)
    STRUCTURES[kind](model)
    path = export_onnx(model, tmp_path / "model.onnx")
    for engine in engines_for(["onnxruntime", "openvino"]):
        for batch, length, padded in ((1, 7, False), (5, 33, True), (2, 128, True)):
            inputs = _inputs(batch, length, padded)
            run, _ = engine.load(path, "fp32", threads=1)
            difference = np.abs(np.asarray(run(inputs)) - torch_logits(model, inputs)).max()
            assert difference < 1e-4, f"{engine.name} on {kind}, batch {batch} length {length}: {difference:.2e}"


def test_bypassing_empty_blocks_keeps_the_outputs_and_leaves_no_zero_width_matrix():
    model = tiny_bert(seed=4, **SHAPE)
    prune_heads(model, {1: [0, 1, 2, 3]})
    prune_ffn_neurons(model, {2: range(64)})
    inputs = _inputs(3, 20, padded=True)
    before = torch_logits(model, inputs)
    assert bypass_empty_blocks(model) == 2
    assert np.abs(torch_logits(model, inputs) - before).max() < 1e-6
    shapes = [p.shape for p in model.parameters()]
    assert all(0 not in shape for shape in shapes)


def test_export_leaves_the_callers_model_as_it_was(tmp_path):
    model = tiny_bert(seed=5, **SHAPE).to(torch.bfloat16)
    prune_heads(model, {0: [0, 1, 2, 3]})
    export_onnx(model, tmp_path / "model.onnx")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert model.bert.encoder.layer[0].attention.self.query.out_features == 0
