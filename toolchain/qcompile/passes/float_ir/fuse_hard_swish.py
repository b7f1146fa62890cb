"""Recognise hard-swish written out with elementwise ops and make it one ``hard_swish`` node.

Exporters and hand-written models spell ``x * relu6(x + 3) / 6`` as ``Add``, ``Clip``,
``Mul``, ``Div`` (or ``x * HardSigmoid(x)`` with alpha 1/6). Quantized op by op, the
product ``x * relu6(x + 3)`` needs its own int8 range, about six times wider than the
result, and three roundings; as one table (``lut``) the whole function costs one.

Forms recognised (after ``fuse_activation``, so the clamp is the add's ``act_range``):

* ``scale(mul(x, add(x, 3)[0, 6]), 1/6)``
* ``mul(x, scale(add(x, 3)[0, 6], 1/6))``
* ``mul(x, hard_sigmoid(x; alpha=1/6, beta=1/2))``

Every intermediate must have that one reader and not be a graph output.
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.passes._util import const_data, is_open, sole_consumer

_REL = 1e-6


def _close(value: float, target: float) -> bool:
    return abs(value - target) <= _REL * abs(target)


def _relu6_plus3(graph: Graph, node: Node | None, x: str) -> bool:
    """``node`` is ``add(x, 3)`` clamped to [0, 6]."""
    if node is None or node.op != "add" or x not in node.inputs or len(node.inputs) != 2:
        return False
    lo, hi = tuple(node.attrs.get("act_range") or (None, None))
    other = node.inputs[1] if node.inputs[0] == x else node.inputs[0]
    c = const_data(graph, other)
    return (
        lo == 0.0
        and hi == 6.0
        and c is not None
        and c.size == 1
        and _close(float(c.reshape(())), 3.0)
        and tuple(graph.tensors[node.outputs[0]].shape) == tuple(graph.tensors[x].shape)
    )


def _is_scale(node: Node | None, factor: float) -> bool:
    return (
        node is not None
        and node.op == "elementwise"
        and node.attrs.get("fn") == "scale"
        and _close(float(node.attrs.get("factor", 0.0)), factor)
    )


def _producer(graph: Graph, tensor: str) -> Node | None:
    return graph.producer(tensor) if tensor in graph.tensors else None


def _gate(graph: Graph, mul: Node, x: str, gate: str) -> list[Node] | None:
    """The nodes computing ``gate`` as ``relu6(x + 3) / 6`` or ``hard_sigmoid(x)``, each read only here."""
    g = _producer(graph, gate)
    if g is None or sole_consumer(graph, gate) is not mul:
        return None
    if g.op == "elementwise" and g.attrs.get("fn") == "hard_sigmoid" and g.inputs[0] == x:
        if _close(float(g.attrs.get("alpha", 0.2)), 1 / 6) and _close(float(g.attrs.get("beta", 0.5)), 0.5):
            return [g]
        return None
    if _is_scale(g, 1 / 6):
        add = _producer(graph, g.inputs[0])
        if _relu6_plus3(graph, add, x) and sole_consumer(graph, g.inputs[0]) is g:
            return [add, g]
    return None


def _match(graph: Graph, mul: Node) -> tuple[str, list[Node], str] | None:
    """(x, nodes to remove, output tensor) when ``mul`` is the core of a hard-swish."""
    if mul.op != "mul" or len(mul.inputs) != 2 or not is_open(mul.attrs.get("act_range")):
        return None
    for x, other in (tuple(mul.inputs), tuple(reversed(mul.inputs))):
        if graph.tensors[x].is_constant:
            continue
        nodes = _gate(graph, mul, x, other)
        if nodes is not None:
            return x, [*nodes, mul], mul.outputs[0]
        add = _producer(graph, other)
        tail = sole_consumer(graph, mul.outputs[0])
        if _relu6_plus3(graph, add, x) and sole_consumer(graph, other) is mul and _is_scale(tail, 1 / 6):
            return x, [add, mul, tail], tail.outputs[0]
    return None


def run(graph: Graph) -> Graph:
    for mul in list(graph.nodes):
        if mul not in graph.nodes:
            continue
        found = _match(graph, mul)
        if found is None:
            continue
        x, nodes, out = found
        if tuple(graph.tensors[out].shape) != tuple(graph.tensors[x].shape):
            continue
        sources = [s for n in nodes for s in n.source_nodes]
        last = nodes[-1]
        fused = Node(last.name, "elementwise", [x], [out], {"fn": "hard_swish"}, list(dict.fromkeys(sources)))
        first = min(graph.nodes.index(n) for n in nodes)  # x exists there; out's readers come later
        for n in nodes:
            for t in n.outputs:
                if t != out:
                    graph.tensors.pop(t, None)
            graph.remove_node(n)
        graph.add_node(fused, first)
    return graph
