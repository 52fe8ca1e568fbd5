"""Physical removal of heads, FFN neurons and layers from BERT-family models (transformers 5).

transformers 5 removed `PreTrainedModel.prune_heads` and per-layer head counts, so structured
pruning lives here. Every change is made in place on the existing modules: the Q/K/V and output
`nn.Linear`s keep their identity (forward hooks stay attached) and get new, smaller parameters.
Make structural changes before building an optimizer: the old parameter objects are replaced.

- `prune_heads(model, {layer: [head, ...]})`: heads in the layer's *current* numbering. The
  self-attention forward reshapes with `view(..., -1, attention_head_size)`, so narrower Q/K/V
  outputs are all it needs; `num_attention_heads` and `all_head_size` are kept in step. A layer
  with no head left runs a forward that returns an empty context, so its attention block adds only
  the output bias before the residual and LayerNorm.
- `prune_hidden(model, keep)`: hidden dimensions, from the embeddings to the pooler's input.
- `prune_ffn_neurons(model, {layer: [neuron, ...]})`, `narrow_ffn(model, width)` (the least important
  neurons by weight norms go), `drop_layers(model, keep)`.
- `bypass_empty_blocks(model)`: for inference and export, a headless attention block or an FFN with
  no neuron becomes the constant it computes, so no zero-width matrix is left.
- `install_prune_heads(model)`: the transformers 4 `model.prune_heads(heads_to_prune)` method
  (original head numbering, already removed heads ignored), which textpruner and nn_pruning call.
- `structure_of`, `save_pruned`, `load_pruned`: the per-layer shapes travel in a side file
  (`pruned_structure.json`) next to `save_pretrained`'s files; loading rebuilds the shapes on a
  fresh model and then loads the weights strictly. `from_pretrained` alone refuses such a folder
  (size mismatch), so a pruned checkpoint is never silently re-initialised.

The config keeps `hidden_size`, `num_attention_heads` and `intermediate_size` of the unpruned model
(head size is `hidden_size // num_attention_heads`); only `num_hidden_layers` follows `drop_layers`.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import nn
from transformers import AutoConfig, PreTrainedModel

STRUCTURE_FILE = "pruned_structure.json"
STRUCTURE_VERSION = 2  # 2 added the kept hidden width


def _base(model: nn.Module) -> nn.Module:
    base = getattr(model, "base_model", model)
    if not hasattr(base, "encoder") or not hasattr(base.encoder, "layer"):
        raise TypeError(f"{type(model).__name__} is not a BERT-family model (no encoder.layer)")
    return base


def _layers(model: nn.Module) -> nn.ModuleList:
    return _base(model).encoder.layer


def _head_size(model: nn.Module) -> int:
    config = _base(model).config
    return config.hidden_size // config.num_attention_heads


def _check_layer(model: nn.Module, index: int) -> nn.Module:
    layers = _layers(model)
    if not 0 <= index < len(layers):
        raise IndexError(f"layer {index} does not exist (the model has {len(layers)} layers)")
    return layers[index]


def _keep_outputs(linear: nn.Linear, index: torch.Tensor) -> None:
    """Keep the output features (weight rows, bias entries) listed in `index`."""
    with torch.no_grad():
        weight = linear.weight.index_select(0, index).clone()
        bias = None if linear.bias is None else linear.bias.index_select(0, index).clone()
    linear.weight = nn.Parameter(weight, requires_grad=linear.weight.requires_grad)
    if bias is not None:
        linear.bias = nn.Parameter(bias, requires_grad=linear.bias.requires_grad)
    linear.out_features = int(index.numel())


def _keep_inputs(linear: nn.Linear, index: torch.Tensor) -> None:
    """Keep the input features (weight columns) listed in `index`; the bias is unchanged."""
    with torch.no_grad():
        weight = linear.weight.index_select(1, index).clone()
    linear.weight = nn.Parameter(weight, requires_grad=linear.weight.requires_grad)
    linear.in_features = int(index.numel())


def _headless_forward(self: nn.Module, hidden_states: torch.Tensor, *args: Any, **kwargs: Any):
    """Self-attention with no head left: an empty context (the output dense then adds its bias).

    Q and K are still called (zero-width, free) so that forward hooks on them keep firing.
    """
    self.query(hidden_states)
    self.key(hidden_states)
    return self.value(hidden_states), None


def num_heads(attention_self: nn.Module, d_head: int) -> int:
    """Heads a self-attention module has now (its query width over the head size)."""
    return attention_self.query.out_features // d_head


def _validated(
    model: nn.Module, units: Mapping[int, Iterable[int]], count: Callable[[nn.Module], int], what: str
) -> dict[int, set[int]]:
    """{layer: indices to remove}, every index checked before anything is changed."""
    out: dict[int, set[int]] = {}
    for layer_index, indices in units.items():
        layer = _check_layer(model, int(layer_index))
        current = count(layer)
        remove = {int(i) for i in indices}
        bad = sorted(i for i in remove if not 0 <= i < current)
        if bad:
            raise IndexError(f"layer {layer_index} has {current} {what}; cannot remove {bad[:5]}")
        if remove:
            out[int(layer_index)] = remove
    return out


def prune_heads(model: nn.Module, heads: Mapping[int, Iterable[int]]) -> None:
    """Remove attention heads; indices are in each layer's *current* numbering (0..kept-1)."""
    d_head = _head_size(model)
    layers = _layers(model)
    to_remove = _validated(model, heads, lambda layer: num_heads(layer.attention.self, d_head), "heads")
    for layer_index, remove in to_remove.items():
        layer = layers[layer_index]
        attn = layer.attention.self
        current = num_heads(attn, d_head)
        keep = [h for h in range(current) if h not in remove]
        index = torch.arange(current * d_head, device=attn.query.weight.device).view(current, d_head)[keep].flatten()
        for name in ("query", "key", "value"):
            _keep_outputs(getattr(attn, name), index)
        _keep_inputs(layer.attention.output.dense, index)
        # bookkeeping in the original numbering (what the transformers 4 API took)
        original = _original_heads(layer, current)
        layer.attention.pruned_heads = _pruned_heads(layer) | {original[h] for h in remove}
        if hasattr(attn, "num_attention_heads"):
            attn.num_attention_heads = len(keep)
        if hasattr(attn, "all_head_size"):
            attn.all_head_size = len(keep) * d_head
        if not keep:
            attn.forward = types.MethodType(_headless_forward, attn)


def _pruned_heads(layer: nn.Module) -> set[int]:
    return set(getattr(layer.attention, "pruned_heads", set()))


def _original_heads(layer: nn.Module, current: int) -> list[int]:
    """Original index of each current head."""
    pruned = _pruned_heads(layer)
    original = [h for h in range(current + len(pruned)) if h not in pruned]
    if len(original) != current:
        raise RuntimeError("head bookkeeping (attention.pruned_heads) disagrees with the layer's shapes")
    return original


def _ffn_width(layer: nn.Module) -> int:
    return layer.intermediate.dense.out_features


def prune_ffn_neurons(model: nn.Module, neurons: Mapping[int, Iterable[int]]) -> None:
    """Remove intermediate neurons: rows of intermediate.dense, columns of output.dense."""
    layers = _layers(model)
    for layer_index, remove in _validated(model, neurons, _ffn_width, "FFN neurons").items():
        layer = layers[layer_index]
        keep = [n for n in range(_ffn_width(layer)) if n not in remove]
        index = torch.tensor(keep, dtype=torch.long, device=layer.intermediate.dense.weight.device)
        _keep_outputs(layer.intermediate.dense, index)
        _keep_inputs(layer.output.dense, index)


def ffn_neuron_importance(layer: nn.Module) -> torch.Tensor:
    """|FFN-in row| x |FFN-out column| per intermediate neuron: how far it can move the layer's output."""
    w_in = layer.intermediate.dense.weight.detach()  # [ffn, hidden]
    w_out = layer.output.dense.weight.detach()  # [hidden, ffn]
    return w_in.norm(dim=1) * w_out.norm(dim=0)


def narrow_ffn(model: nn.Module, width: int) -> None:
    """Keep the `width` most important FFN neurons (by ffn_neuron_importance) in every layer."""
    drop = {}
    for index, layer in enumerate(_layers(model)):
        surplus = _ffn_width(layer) - width
        if surplus > 0:
            drop[index] = torch.argsort(ffn_neuron_importance(layer))[:surplus].tolist()
    prune_ffn_neurons(model, drop)


def drop_layers(model: nn.Module, keep: Iterable[int]) -> None:
    """Keep only the listed encoder layers, in the given order; renumber their `layer_idx`."""
    base = _base(model)
    keep = [int(i) for i in keep]
    if len(set(keep)) != len(keep):
        raise ValueError(f"duplicate layers in {keep}")
    for i in keep:
        _check_layer(model, i)
    old = base.encoder.layer
    base.encoder.layer = nn.ModuleList([old[i] for i in keep])
    for new_index, layer in enumerate(base.encoder.layer):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    config = base.config
    config.num_hidden_layers = len(keep)
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list | tuple) and len(layer_types) == len(old):
        config.layer_types = [layer_types[i] for i in keep]


class _ResidualBiasNorm(nn.Module):
    """What a block with no width left computes: LayerNorm(its output bias + the residual)."""

    def __init__(self, bias: torch.Tensor | None, norm: nn.LayerNorm) -> None:
        super().__init__()
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.LayerNorm = norm

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(input_tensor if self.bias is None else input_tensor + self.bias)


class _NoHeads(nn.Module):
    """Self-attention with no head: no context; the output block ignores it."""

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any):
        return hidden_states, None


def bypass_empty_blocks(model: nn.Module) -> int:
    """Replace, in place and for inference, every attention block with no head and every FFN with no
    neuron by the constant they compute (LayerNorm of the output bias plus the residual); returns how
    many. Same outputs in eval mode, and no zero-width matrix left: exporters turn those into scalars
    that ONNX engines refuse."""
    bypassed = 0
    for layer in _layers(model):
        attention = layer.attention
        if attention.self.query.out_features == 0:
            attention.self = _NoHeads()
            attention.output = _ResidualBiasNorm(attention.output.dense.bias, attention.output.LayerNorm)
            bypassed += 1
        if _ffn_width(layer) == 0:
            layer.intermediate = nn.Identity()
            layer.output = _ResidualBiasNorm(layer.output.dense.bias, layer.output.LayerNorm)
            bypassed += 1
    return bypassed


def _keep_norm(norm: nn.LayerNorm, index: torch.Tensor) -> None:
    with torch.no_grad():
        norm.weight = nn.Parameter(norm.weight.index_select(0, index).clone(), requires_grad=norm.weight.requires_grad)
        norm.bias = nn.Parameter(norm.bias.index_select(0, index).clone(), requires_grad=norm.bias.requires_grad)
    norm.normalized_shape = (int(index.numel()),)


def hidden_width(model: nn.Module) -> int:
    """Hidden dimensions the encoder carries now (the embeddings' width)."""
    return _base(model).embeddings.word_embeddings.weight.shape[1]


def prune_hidden(model: nn.Module, keep: Iterable[int]) -> None:
    """Keep only the listed hidden dimensions, from the embeddings to the pooler's input: embedding
    columns, every LayerNorm entry, the input columns of Q/K/V and FFN-in and of the pooler, the
    output rows of the attention output and FFN-out projections. The pooler's output (the
    classifier's input) keeps its width. Head size and FFN width are unchanged, and so is the config's
    `hidden_size` (the head size is read from it); the kept width travels in the structure file."""
    base = _base(model)
    width = hidden_width(model)
    keep = sorted({int(i) for i in keep})
    if not keep or keep[0] < 0 or keep[-1] >= width:
        raise IndexError(f"hidden dimensions to keep must be a non-empty subset of 0..{width - 1}")
    if len(keep) == width:
        return
    device = base.embeddings.word_embeddings.weight.device
    index = torch.tensor(keep, dtype=torch.long, device=device)
    embeddings = base.embeddings
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        table = getattr(embeddings, name, None)
        if table is not None:
            with torch.no_grad():
                weight = table.weight.index_select(1, index).clone()
            table.weight = nn.Parameter(weight, requires_grad=table.weight.requires_grad)
            table.embedding_dim = len(keep)
    _keep_norm(embeddings.LayerNorm, index)
    for layer in base.encoder.layer:
        attention = layer.attention
        for linear in (attention.self.query, attention.self.key, attention.self.value, layer.intermediate.dense):
            _keep_inputs(linear, index)
        for linear in (attention.output.dense, layer.output.dense):
            _keep_outputs(linear, index)
        _keep_norm(attention.output.LayerNorm, index)
        _keep_norm(layer.output.LayerNorm, index)
    pooler = getattr(base, "pooler", None)
    if pooler is not None:
        _keep_inputs(pooler.dense, index)


def _legacy_prune_heads(self: nn.Module, heads_to_prune: Mapping[int, Iterable[int]]) -> None:
    """transformers 4 semantics: original head numbering; heads already removed are ignored."""
    d_head = _head_size(self)
    current_numbering: dict[int, list[int]] = {}
    for layer_index, layer_heads in heads_to_prune.items():
        layer = _check_layer(self, int(layer_index))
        original = _original_heads(layer, num_heads(layer.attention.self, d_head))
        position = {h: i for i, h in enumerate(original)}
        current_numbering[int(layer_index)] = sorted(position[int(h)] for h in layer_heads if int(h) in position)
    prune_heads(self, current_numbering)


def install_prune_heads(model: nn.Module) -> None:
    """Give `model` and its base model a transformers 4 style `prune_heads(heads_to_prune)` method."""
    for target in {id(model): model, id(_base(model)): _base(model)}.values():
        target.prune_heads = types.MethodType(_legacy_prune_heads, target)


def uninstall_prune_heads(model: nn.Module) -> None:
    """Remove what install_prune_heads added (the model is plain again)."""
    for target in (model, _base(model)):
        target.__dict__.pop("prune_heads", None)


def structure_of(model: nn.Module) -> dict[str, Any]:
    """Layer count, kept heads and FFN width per layer, and removed heads in original numbering."""
    d_head = _head_size(model)
    layers = _layers(model)
    return {
        "version": STRUCTURE_VERSION,
        "num_hidden_layers": len(layers),
        "heads": [num_heads(layer.attention.self, d_head) for layer in layers],
        "ffn": [layer.intermediate.dense.out_features for layer in layers],
        "pruned_heads": [sorted(_pruned_heads(layer)) for layer in layers],
        "hidden": hidden_width(model),
    }


def apply_structure(model: nn.Module, structure: Mapping[str, Any]) -> None:
    """Shrink a freshly built (unpruned) model with `num_hidden_layers` layers to `structure`."""
    layers = _layers(model)
    if structure["num_hidden_layers"] != len(layers):
        raise ValueError(f"structure has {structure['num_hidden_layers']} layers, the model {len(layers)}")
    d_head = _head_size(model)
    heads: dict[int, list[int]] = {}
    neurons: dict[int, list[int]] = {}
    for i, layer in enumerate(layers):
        total = num_heads(layer.attention.self, d_head)
        removed = list(structure["pruned_heads"][i])
        if len(removed) != total - structure["heads"][i]:  # no bookkeeping: drop the last heads
            removed = list(range(structure["heads"][i], total))
        heads[i] = removed
        neurons[i] = list(range(structure["ffn"][i], layer.intermediate.dense.out_features))
    prune_heads(model, heads)
    prune_ffn_neurons(model, neurons)
    hidden = structure.get("hidden", hidden_width(model))  # version 1 files: the full width
    prune_hidden(model, range(hidden))


def save_pruned(model: PreTrainedModel, path: str | Path) -> None:
    """save_pretrained plus `pruned_structure.json` (what load_pruned needs to rebuild the shapes)."""
    path = Path(path)
    model.save_pretrained(path)
    (path / STRUCTURE_FILE).write_text(json.dumps(structure_of(model), indent=2) + "\n")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    files = sorted(path.glob("*.safetensors"))
    if files:
        from safetensors.torch import load_file

        state: dict[str, torch.Tensor] = {}
        for file in files:
            state.update(load_file(str(file)))
        return state
    legacy = path / "pytorch_model.bin"
    if legacy.is_file():
        return torch.load(legacy, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"no weights (*.safetensors or pytorch_model.bin) in {path}")


def load_pruned(path: str | Path) -> PreTrainedModel:
    """Load what save_pruned wrote (a folder without the structure file loads as a dense model)."""
    path = Path(path)
    config = AutoConfig.from_pretrained(path)
    architectures = getattr(config, "architectures", None) or []
    cls = getattr(transformers, architectures[0], None) if architectures else None
    if cls is None:
        raise ValueError(f"{path}/config.json names no known architecture ({architectures})")
    structure_file = path / STRUCTURE_FILE
    if not structure_file.is_file():
        return cls.from_pretrained(path)
    model = cls(config)
    apply_structure(model, json.loads(structure_file.read_text()))
    state = _read_state_dict(path)
    missing, unexpected = model.load_state_dict(state, strict=False)
    model.tie_weights()  # tied weights (e.g. an LM decoder) are saved once
    own = model.state_dict()
    from_checkpoint = {own[k].data_ptr() for k in state if k in own and own[k].numel()}
    untied = [k for k in missing if own[k].numel() and own[k].data_ptr() not in from_checkpoint]
    if unexpected or untied:
        raise RuntimeError(
            f"{path}: weights do not fit the recorded structure (missing {untied}, unexpected {unexpected})"
        )
    dtypes = {t.dtype for t in state.values() if t.is_floating_point()}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    return model.eval()
