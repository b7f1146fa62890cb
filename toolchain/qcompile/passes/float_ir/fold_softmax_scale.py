"""Fold a positive scalar scale into the softmax that reads it: ``softmax(c * x)`` is
``softmax(x)`` with ``beta * c``. Attention scales its logits by ``1/sqrt(d)`` right before
the softmax; folded, the int8 softmax reads the batch_matmul output directly (one int8
rounding and one lookup table fewer) and the scale enters TFLM's softmax input
multiplier exactly (docs/QUANTIZATION.md, "softmax")."""

from __future__ import annotations

from qcompile.ir import Graph
from qcompile.passes._util import sole_consumer


def run(graph: Graph) -> Graph:
    for node in list(graph.nodes):
        if node.op != "elementwise" or node.attrs.get("fn") != "scale" or float(node.attrs["factor"]) <= 0:
            continue
        soft = sole_consumer(graph, node.outputs[0])
        if soft is None or soft.op != "softmax":
            continue
        soft.attrs = {**soft.attrs, "beta": float(soft.attrs.get("beta", 1.0)) * float(node.attrs["factor"])}
        soft.inputs = [node.inputs[0]]
        graph.remove_node(node)
    return graph
