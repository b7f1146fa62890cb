"""Fold an explicit zero ``pad`` of the spatial axes into the following conv's ``pads``.

Conv padding reads the input zero point, i.e. real 0, so a zero pad in front of a conv
(PyTorch/TF "explicit padding" exports, asymmetric TF SAME padding) is exactly the
conv's own padding: one op and one tensor less. A max pool can absorb it too when its
input is known non-negative (producer clamps at >= 0): then an extra 0 in a window never
changes the max. Average pools never absorb it (the padded zeros would change the count).
"""

from __future__ import annotations

from qcompile.ir import Graph
from qcompile.passes._util import sole_consumer


def _spatial_only(pads) -> bool:
    pads = [tuple(int(v) for v in p) for p in pads]
    return len(pads) == 4 and pads[0] == (0, 0) and pads[3] == (0, 0) and all(v >= 0 for p in pads for v in p)


def _nonnegative(graph: Graph, tensor: str) -> bool:
    prod = graph.producer(tensor)
    if prod is None:
        return False
    act = prod.attrs.get("act_range")
    if act is not None and act[0] is not None and act[0] >= 0:
        return True
    return prod.op == "elementwise" and prod.attrs.get("fn") in ("relu", "sigmoid", "hard_sigmoid")


def run(graph: Graph) -> Graph:
    for node in list(graph.nodes):
        if node.op != "pad" or float(node.attrs.get("value", 0.0)) != 0.0 or not _spatial_only(node.attrs["pads"]):
            continue
        user = sole_consumer(graph, node.outputs[0])
        if user is None or user.inputs[0] != node.outputs[0]:
            continue
        if user.op == "max_pool2d" and not _nonnegative(graph, node.inputs[0]):
            continue
        if user.op not in ("conv2d", "depthwise_conv2d", "max_pool2d"):
            continue
        (_, _), (pt, pb), (pl, pr), _ = node.attrs["pads"]
        t, left, b, r = user.attrs.get("pads", (0, 0, 0, 0))
        user.attrs["pads"] = (int(t) + pt, int(left) + pl, int(b) + pb, int(r) + pr)
        user.inputs[0] = node.inputs[0]
        graph.remove_node(node)
    graph.prune()
    return graph
