"""Fold ``add``/``sub`` of a constant that broadcasts along the output channel into the
bias of the conv / depthwise / fully connected producing the other operand.

Exporters often write ``MatMul`` + ``Add`` or ``Conv`` without bias + ``Add``; as a bias
the constant costs nothing at run time and is added in int32 before requantisation,
instead of being a separate int8 add with its own rounding.
"""

from __future__ import annotations

from qcompile.ir import Graph
from qcompile.passes._util import (
    WEIGHTED_OPS,
    channel_vector,
    const_data,
    is_open,
    replace_producer_output,
    sole_consumer,
)
from qcompile.passes.fold_batchnorm import fold_into_bias


def run(graph: Graph) -> Graph:
    changed = True
    while changed:
        changed = False
        for producer in list(graph.nodes):
            if producer.op not in WEIGHTED_OPS or not is_open(producer.attrs.get("act_range")):
                continue
            out = producer.outputs[0]
            user = sole_consumer(graph, out)
            if user is None or user.op not in ("add", "sub") or not is_open(user.attrs.get("act_range")):
                continue
            other = user.inputs[1] if user.inputs[0] == out else user.inputs[0]
            if user.op == "sub" and user.inputs[0] != out:
                continue  # c - y is not a bias
            c = const_data(graph, other)
            shape = graph.tensors[out].shape
            vec = None if c is None else channel_vector(c, shape[-1], len(shape))
            if vec is None or tuple(graph.tensors[user.outputs[0]].shape) != tuple(shape):
                continue
            has_bias = len(producer.inputs) > 2 and producer.inputs[2]
            if has_bias and const_data(graph, producer.inputs[2]) is None:
                continue
            delta = -vec if user.op == "sub" else vec  # b + (-v) == b - v exactly
            fold_into_bias(graph, producer, lambda b, d=delta: b + d)
            replace_producer_output(graph, producer, out, user)
            changed = True
    graph.prune()
    return graph
