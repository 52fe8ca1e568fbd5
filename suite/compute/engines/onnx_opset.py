"""An exported file rewritten for an engine that reads an older ONNX than torch's exporter writes.

The exporter writes opset 20 and IR version 10; DeepSparse 1.8 reads IR version 9 at most, and
onnx's own version converter cannot take a graph with Gelu below opset 20, where Gelu first appears.
So each Gelu is expanded into the elementary operators it is defined by, the version converter then
lowers the opset, and the file gets the oldest IR version that opset allows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter


def lower_opset(source: Path, target: Path, opset: int) -> Path:
    """Write `source` to `target` at `opset` (default domain) with the matching IR version."""
    model = onnx.load(str(source))
    _expand_gelu(model.graph)
    lowered = version_converter.convert_version(model, opset)
    lowered.ir_version = helper.find_min_ir_version_for(list(lowered.opset_import))
    onnx.checker.check_model(lowered)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(lowered, str(target))
    return target


def _expand_gelu(graph: onnx.GraphProto) -> None:
    """Gelu as x * 0.5 * (1 + erf(x / sqrt 2)), or its tanh approximation where the node asks for it.
    The constants are float32: the suite exports in fp32."""
    nodes: list[onnx.NodeProto] = []
    constants: dict[str, float] = {}

    def constant(name: str, value: float) -> str:
        constants[name] = value
        return name

    for index, node in enumerate(graph.node):
        if node.op_type != "Gelu" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        approximate = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "approximate"), b"none")
        x, y = node.input[0], node.output[0]
        prefix = f"_gelu_expanded_{index}"
        one, half = constant("_gelu_one", 1.0), constant("_gelu_half", 0.5)
        if approximate in (b"tanh", "tanh"):
            # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
            cube = constant("_gelu_three", 3.0)
            nodes += [
                helper.make_node("Pow", [x, cube], [f"{prefix}_cube"]),
                helper.make_node("Mul", [f"{prefix}_cube", constant("_gelu_cubic", 0.044715)], [f"{prefix}_cubic"]),
                helper.make_node("Add", [x, f"{prefix}_cubic"], [f"{prefix}_inner"]),
                helper.make_node(
                    "Mul", [f"{prefix}_inner", constant("_gelu_scale", math.sqrt(2.0 / math.pi))], [f"{prefix}_scaled"]
                ),
                helper.make_node("Tanh", [f"{prefix}_scaled"], [f"{prefix}_curve"]),
            ]
        else:
            nodes += [
                helper.make_node("Div", [x, constant("_gelu_sqrt2", math.sqrt(2.0))], [f"{prefix}_scaled"]),
                helper.make_node("Erf", [f"{prefix}_scaled"], [f"{prefix}_curve"]),
            ]
        nodes += [
            helper.make_node("Add", [f"{prefix}_curve", one], [f"{prefix}_shifted"]),
            helper.make_node("Mul", [x, f"{prefix}_shifted"], [f"{prefix}_product"]),
            helper.make_node("Mul", [f"{prefix}_product", half], [y], name=node.name),
        ]
    if not constants:
        return
    clash = sorted(set(constants) & {tensor.name for tensor in graph.initializer})
    if clash:
        raise ValueError(f"the graph already has initializers named {clash}: cannot expand Gelu under those names")
    graph.initializer.extend(
        numpy_helper.from_array(np.array(value, dtype=np.float32), name) for name, value in constants.items()
    )
    del graph.node[:]
    graph.node.extend(nodes)
