"""CoFi's gates inside a Hugging Face BERT: forward hooks while training, then folding and removal.

While training, hooks multiply
- each head's context (the attention output projection's input) by its head gate, and the
  projection's output by the layer's attention gate;
- each FFN neuron's activation (the FFN output projection's input) by its gate, and the
  projection's output by the layer's FFN gate;
- every LayerNorm's output by the hidden-dimension gates, after normalising over the open
  dimensions only, so closed dimensions carry exact zeros everywhere.
At the end the (fixed) gate values are folded into the weights they scale and every closed head,
neuron and hidden dimension is removed with suite.structure: the result computes the same function
with smaller matrices, and is a plain Hugging Face model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from methods.cofi.gates import CoFiGates
from suite.structure import prune_ffn_neurons, prune_heads, prune_hidden


def _layer_norms(model: nn.Module) -> list[nn.LayerNorm]:
    base = model.base_model
    norms = [base.embeddings.LayerNorm]
    for layer in base.encoder.layer:
        norms += [layer.attention.output.LayerNorm, layer.output.LayerNorm]
    return norms


class GateHooks:
    """Installs the gates' forward hooks on `model`; `remove()` takes them all off again."""

    def __init__(self, model: nn.Module, gates: CoFiGates) -> None:
        self.gates = gates
        self.handles = []
        head_size = gates.shapes.head_size
        for i, layer in enumerate(model.base_model.encoder.layer):
            attention_out, ffn_out = layer.attention.output.dense, layer.output.dense
            self.handles += [
                attention_out.register_forward_pre_hook(self._scale_input("head", i, head_size)),
                attention_out.register_forward_hook(self._scale_output("mha", i)),
                ffn_out.register_forward_pre_hook(self._scale_input("intermediate", i, 1)),
                ffn_out.register_forward_hook(self._scale_output("ffn", i)),
            ]
        for norm in _layer_norms(model):
            self.handles.append(norm.register_forward_hook(self._masked_norm))

    def _scale_input(self, group: str, layer: int, repeat: int):
        def hook(_module, inputs):
            gate = self.gates.values[group][layer].repeat_interleave(repeat)
            return (inputs[0] * gate.to(inputs[0].dtype),)

        return hook

    def _scale_output(self, group: str, layer: int):
        def hook(_module, _inputs, output):
            return output * self.gates.values[group][layer].to(output.dtype)

        return hook

    def _masked_norm(self, norm: nn.LayerNorm, inputs, output):
        gate = self.gates.values["hidden"]
        if bool((gate != 0).all()):
            return output * gate.to(output.dtype)
        keep = torch.nonzero(gate).flatten()
        x = inputs[0].index_select(-1, keep)
        normed = F.layer_norm(x, (keep.numel(),), norm.weight[keep], norm.bias[keep], norm.eps)
        out = torch.zeros_like(output)
        out[..., keep] = (normed * gate[keep]).to(output.dtype)
        return out

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()


@torch.no_grad()
def fold_and_remove(model: nn.Module, gates: CoFiGates) -> None:
    """Fold the fixed gate values into the weights and remove what they closed, in place."""
    v = {name: value.to(model.device) for name, value in gates.values.items()}
    head_size = gates.shapes.head_size
    heads, neurons = {}, {}
    for i, layer in enumerate(model.base_model.encoder.layer):
        attention_out, ffn_out = layer.attention.output.dense, layer.output.dense
        attention_out.weight.mul_(v["head"][i].repeat_interleave(head_size) * v["mha"][i])
        attention_out.bias.mul_(v["mha"][i])
        ffn_out.weight.mul_(v["intermediate"][i] * v["ffn"][i])
        ffn_out.bias.mul_(v["ffn"][i])
        head_open = (v["head"][i] != 0) & (v["mha"][i] != 0)
        neuron_open = (v["intermediate"][i] != 0) & (v["ffn"][i] != 0)
        heads[i] = torch.nonzero(~head_open).flatten().tolist()
        neurons[i] = torch.nonzero(~neuron_open).flatten().tolist()
    for norm in _layer_norms(model):
        norm.weight.mul_(v["hidden"])
        norm.bias.mul_(v["hidden"])
    prune_heads(model, heads)
    prune_ffn_neurons(model, neurons)
    prune_hidden(model, torch.nonzero(v["hidden"]).flatten().tolist())
