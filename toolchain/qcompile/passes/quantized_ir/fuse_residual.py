"""Fuse a residual ``add`` into the epilogue of the ``conv2d`` that feeds it (quantized IR).

``conv2d(x) -> y; add(y, r) -> z`` becomes ``conv2d_add(x, w, bias, r) -> z``: the C
kernel computes the conv a row at a time and adds the residual row before writing, so
``y`` is never stored whole. The planner can then also write ``z`` over ``r`` (in place).

This runs on the QUANTIZED graph, after quantize: the fused node keeps the conv's own
requantisation (to ``y``'s int8 parameters, with its activation clamp) and the add's
parameters verbatim (prefixed ``add_``), so its meaning is exactly the unfused pair
(``qcompile.reference.fused.conv2d_add`` is defined that way).

Conditions: ``y`` has a single reader (the add) and is not a graph output; the add does
not broadcast (both operands and the output share one shape) and its other operand is
an activation; the conv is a dense ``conv2d`` with 4-D int8 tensors.

When both add operands come from eligible convs (ResNet's downsampling block: main branch
and 1x1 shortcut), the one fused is the conv whose input has no other reader (the main
branch's second conv: its input dies at the fused node, while the shortcut's input is
the block input that the main branch also reads), then the larger kernel, then the one
later in the schedule. Fusing the main-branch conv lets the shortcut's output be the
residual that is overwritten in place, which keeps the block at input + two halves.
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.ops import ADD_ATTRS, ADD_PREFIX, CONV_ATTRS, is_s16
from qcompile.passes._util import sole_consumer

FUSED_OP = "conv2d_add"


def _eligible_conv(graph: Graph, add: Node, operand: int) -> Node | None:
    name = add.inputs[operand]
    producer = graph.producer(name)
    if producer is None or producer.op != "conv2d" or len(producer.outputs) != 1 or is_s16(graph, producer):
        return None
    if sole_consumer(graph, name) is not add:
        return None
    other = add.inputs[1 - operand]
    t_other = graph.tensors[other]
    if t_other.is_constant or other == name:
        return None
    shapes = {tuple(graph.tensors[n].shape) for n in (name, other, add.outputs[0])}
    if len(shapes) != 1 or len(next(iter(shapes))) != 4:
        return None
    if any(graph.tensors[n].dtype != "int8" for n in (name, other, add.outputs[0], producer.inputs[0])):
        return None
    if any(k not in producer.attrs for k in CONV_ATTRS) or any(k not in add.attrs for k in ADD_ATTRS):
        return None
    return producer


def _preference(graph: Graph, conv: Node, position: int) -> tuple[int, int, int]:
    single_reader = len(graph.consumers(conv.inputs[0])) == 1 and not graph.is_graph_io(conv.inputs[0])
    kh, kw = graph.tensors[conv.inputs[1]].shape[1:3]
    return (int(single_reader), int(kh) * int(kw), position)


def run(graph: Graph) -> Graph:
    """Fuse every eligible conv2d -> add pair in place; returns the graph."""
    for add in [n for n in graph.nodes if n.op == "add" and len(n.inputs) == 2]:
        order = {id(n): i for i, n in enumerate(graph.nodes)}
        candidates = []
        for operand in (0, 1):
            conv = _eligible_conv(graph, add, operand)
            if conv is not None:
                candidates.append((_preference(graph, conv, order[id(conv)]), operand, conv))
        if not candidates:
            continue
        _, operand, conv = max(candidates, key=lambda c: c[0])
        fused_attrs = {k: conv.attrs[k] for k in CONV_ATTRS}
        fused_attrs.update({ADD_PREFIX + k: add.attrs[k] for k in ADD_ATTRS})
        fused_attrs["add_conv_operand"] = operand + 1
        bias = conv.inputs[2] if len(conv.inputs) > 2 else ""
        intermediate = conv.outputs[0]
        fused = Node(
            name=add.name,
            op=FUSED_OP,
            inputs=[conv.inputs[0], conv.inputs[1], bias, add.inputs[1 - operand]],
            outputs=list(add.outputs),
            attrs=fused_attrs,
            source_nodes=conv.source_nodes + [s for s in add.source_nodes if s not in conv.source_nodes],
        )
        # The fused node runs where the add ran: every input is available there (the conv's
        # inputs were available earlier, the residual was an input of the add).
        index = graph.nodes.index(add)
        graph.nodes[index] = fused
        graph.remove_node(conv)
        graph.tensors.pop(intermediate, None)
    graph.validate()
    return graph
