"""Evaluate nodes whose inputs are all constants and store the result as a constant.

The importer folds ONNX-level constant subgraphs; this pass catches the ones that
appear after other rewrites (e.g. a transpose of a weight), using the float reference
so the folded value is exactly what the float executor would have computed.
"""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph


def run(graph: Graph) -> Graph:
    from qcompile.reference.executor import _resolve

    for node in list(graph.nodes):
        if len(node.outputs) != 1 or node.outputs[0] in graph.outputs:
            continue
        ins = [graph.tensors[i] for i in node.inputs if i]
        if not ins or not all(t.is_constant for t in ins):
            continue
        fn = _resolve(node.op, ("qcompile.reference.float_ops",))
        value = np.asarray(fn(*[graph.tensors[i].data if i else None for i in node.inputs], **node.attrs))
        out = graph.tensors[node.outputs[0]]
        out.data = np.ascontiguousarray(value.astype(np.float32))
        out.dtype = "float32"
        graph.remove_node(node)
    return graph
