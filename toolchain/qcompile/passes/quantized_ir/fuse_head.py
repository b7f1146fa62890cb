"""Fuse a global average pool and the fully connected layer it feeds (quantized IR).

``avg_pool2d(x) -> p [N,1,1,C]; reshape(p) -> f [N,C]; fully_connected(f, w, b) -> y``
(the head of ResNet-8 and DS-CNN) becomes ``avg_pool_fc(x, w, b) -> y``. The C kernel
pools into a scratch of ``N * C`` bytes and runs the FC on it, so neither ``p`` nor ``f``
is an arena tensor any more and the head is one call.

This runs on the QUANTIZED graph: the fused node keeps the pool's attributes verbatim
(prefixed ``pool_``) and the FC's unprefixed, so its meaning is exactly the unfused chain
(``qcompile.reference.fused.avg_pool_fc`` calls the two reference kernels). ``flatten``
records whether a reshape was folded (the result is ``[N, out]``) or the FC read the
4-D pool output directly (``[N, 1, 1, out]``).

Conditions: the pool is global (its output is ``[N, 1, 1, C]``); every intermediate
tensor (``p``, and ``f`` when there is a reshape) has exactly one reader and is not a graph
output; a reshape in between is a pure reshape to ``[N, C]`` (same element type; it moves
no byte); the FC's weights are a constant ``[out, C]`` matrix; all activations are int8.
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.ops import FC_ATTRS, POOL_ATTRS, POOL_PREFIX
from qcompile.passes._util import sole_consumer

FUSED_OP = "avg_pool_fc"
_RESHAPES = ("reshape", "flatten")


def _match(graph: Graph, pool: Node) -> tuple[Node | None, Node] | None:
    """(reshape or None, fully_connected) fed only by this global pool, else None."""
    if len(pool.outputs) != 1 or len(pool.inputs) != 1 or any(k not in pool.attrs for k in POOL_ATTRS):
        return None
    pooled = pool.outputs[0]
    ps = tuple(int(d) for d in graph.tensors[pooled].shape)
    if len(ps) != 4 or ps[1:3] != (1, 1) or len(graph.tensors[pool.inputs[0]].shape) != 4:
        return None
    reader = sole_consumer(graph, pooled)
    if reader is None:
        return None
    reshape: Node | None = None
    fc_input = pooled
    if reader.op in _RESHAPES:
        reshape = reader
        if len(reshape.outputs) != 1 or reshape.inputs[0] != pooled:
            return None
        fc_input = reshape.outputs[0]
        if tuple(int(d) for d in graph.tensors[fc_input].shape) != (ps[0], ps[3]):
            return None
        reader = sole_consumer(graph, fc_input)
        if reader is None:
            return None
    fc = reader
    if fc.op != "fully_connected" or fc.inputs[0] != fc_input or any(k not in fc.attrs for k in FC_ATTRS):
        return None
    w = graph.tensors[fc.inputs[1]]
    if not w.is_constant or len(w.shape) != 2 or int(w.shape[1]) != ps[3]:
        return None
    activations = [pool.inputs[0], pooled, fc_input, fc.outputs[0]]
    if any(graph.tensors[n].dtype != "int8" for n in activations):
        return None
    return reshape, fc


def run(graph: Graph) -> Graph:
    """Fuse every eligible global avg_pool2d [-> reshape] -> fully_connected chain in place."""
    for pool in [n for n in graph.nodes if n.op == "avg_pool2d"]:
        match = _match(graph, pool)
        if match is None:
            continue
        reshape, fc = match
        attrs = {POOL_PREFIX + k: pool.attrs[k] for k in POOL_ATTRS}
        attrs.update({k: fc.attrs[k] for k in FC_ATTRS})
        attrs["flatten"] = int(reshape is not None)
        chain = [pool] + ([reshape] if reshape is not None else []) + [fc]
        sources: list[str] = []
        for node in chain:
            sources += [s for s in node.source_nodes if s not in sources]
        fused = Node(
            name=fc.name,
            op=FUSED_OP,
            inputs=[pool.inputs[0], fc.inputs[1], fc.inputs[2] if len(fc.inputs) > 2 else ""],
            outputs=list(fc.outputs),
            attrs=attrs,
            source_nodes=sources,
        )
        # The fused node runs where the FC ran: the pool's input was available earlier.
        graph.nodes[graph.nodes.index(fc)] = fused
        for node in chain[:-1]:
            graph.remove_node(node)
            graph.tensors.pop(node.outputs[0], None)
    graph.validate()
    return graph
