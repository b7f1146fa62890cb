"""Remove reshapes/transposes that do nothing and merge chains of reshapes.

Layout conversions and ONNX Reshape/Flatten/Squeeze chains often leave a ``reshape`` to
the shape it already has, an identity ``transpose``, or ``reshape(reshape(x))``; each
would otherwise cost a node in the schedule (and a copy on targets without aliasing).
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.passes._util import sole_consumer


def _is_identity(graph: Graph, node: Node) -> bool:
    src = graph.tensors[node.inputs[0]]
    dst = graph.tensors[node.outputs[0]]
    if node.op == "reshape":
        return tuple(src.shape) == tuple(dst.shape)
    if node.op == "transpose":
        return tuple(node.attrs["perm"]) == tuple(range(len(src.shape)))
    return False


def run(graph: Graph) -> Graph:
    for node in list(graph.nodes):
        if node.op not in ("reshape", "transpose") or src_is_const(graph, node):
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if _is_identity(graph, node):
            if dst in graph.outputs:
                if graph.is_graph_io(src) or len(graph.consumers(src)) != 1:
                    continue
                # the values are identical: the producer's tensor becomes the graph output
                t_src, t_dst = graph.tensors[src], graph.tensors[dst]
                t_src.source_name, t_src.source_perm = t_dst.source_name, t_dst.source_perm
            graph.remove_node(node)
            graph.replace_uses(dst, src)
            graph.tensors.pop(dst, None)
            continue
        if node.op == "reshape":
            user = sole_consumer(graph, dst)
            if user is not None and user.op == "reshape":
                user.inputs[0] = src
                graph.remove_node(node)
                graph.tensors.pop(dst, None)
    graph.prune()
    return graph


def src_is_const(graph: Graph, node: Node) -> bool:
    return graph.tensors[node.inputs[0]].is_constant
