"""Fold ``add``/``sub`` of a constant that broadcasts along the output channel into the
bias of the conv / depthwise / fully connected producing the other operand.

Exporters often write ``MatMul`` + ``Add`` or ``Conv`` without bias + ``Add``; as a bias
the constant costs nothing at run time and is added in int32 before requantisation,
instead of being a separate int8 add with its own rounding.
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.passes._util import channel_vector, const_data, fold_into_producers, is_open
from qcompile.passes.float_ir.fold_batchnorm import fold_into_bias


def _fold(graph: Graph, producer: Node, out: str, user: Node) -> bool:
    if user.op not in ("add", "sub") or not is_open(user.attrs.get("act_range")):
        return False
    other = user.inputs[1] if user.inputs[0] == out else user.inputs[0]
    if user.op == "sub" and user.inputs[0] != out:
        return False  # c - y is not a bias
    c = const_data(graph, other)
    shape = graph.tensors[out].shape
    vec = None if c is None else channel_vector(c, shape[-1], len(shape))
    if vec is None or tuple(graph.tensors[user.outputs[0]].shape) != tuple(shape):
        return False
    has_bias = len(producer.inputs) > 2 and producer.inputs[2]
    if has_bias and const_data(graph, producer.inputs[2]) is None:
        return False
    delta = -vec if user.op == "sub" else vec  # b + (-v) == b - v exactly
    fold_into_bias(graph, producer, lambda b, d=delta: b + d)
    return True


def run(graph: Graph) -> Graph:
    return fold_into_producers(graph, _fold)
