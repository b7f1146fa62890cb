"""Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019) on the float IR.

Depthwise-separable networks often have weight channels of very different ranges in one
layer; per-channel weight scales absorb that, but the activations between two layers
then carry channels of very different ranges on one per-tensor int8 grid. For
consecutive layers ``y = f(W2 relu(W1 x + b1))``, scaling output channel ``c`` of
layer 1 by ``1/s_c`` and input channel ``c`` of layer 2 by ``s_c`` leaves the function
unchanged (``relu(z / s) = relu(z) / s`` for ``s > 0``). ``s_c = sqrt(r1_c / r2_c)``
makes both weight ranges ``sqrt(r1_c * r2_c)``.

Only pairs where the rescaling is exact are touched: layer 1's output feeds layer 2
alone, its fused activation is none or a ReLU (a ReLU6's upper clip at 6 does not
commute with scaling, so those pairs are skipped), weights are used by one node, and
grouped convolutions and depthwise multipliers other than 1 are left out. The tensors
between equalized layers no longer hold the source model's values, so they lose their
source name: calibration then observes them on the float IR.
"""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph, Node

ITERATIONS = 8  # chains (dw -> pw -> dw ...) converge within a few sweeps
_MAX_SCALE = 1e4

# Axes of each op's weights: (output-channel reduce axes, input-channel reduce axes, input-channel axis).
_OUT_REDUCE = {"conv2d": (1, 2, 3), "depthwise_conv2d": (0, 1), "fully_connected": (1,)}
_IN_REDUCE = {"conv2d": (0, 1, 2), "depthwise_conv2d": (0, 1), "fully_connected": (0,)}


def _simple(graph: Graph, node: Node) -> bool:
    if node.op not in _OUT_REDUCE:
        return False
    if node.op == "conv2d" and int(node.attrs.get("groups", 1)) != 1:
        return False
    if node.op == "depthwise_conv2d" and int(node.attrs.get("depth_multiplier", 1)) != 1:
        return False
    return len(graph.consumers(node.inputs[1])) == 1 and graph.tensors[node.inputs[1]].is_constant


def _commutes_with_scaling(node: Node) -> bool:
    act = node.attrs.get("act_range")
    if act is None:
        return True
    lo, hi = act
    return hi is None and (lo is None or float(lo) == 0.0)


def equalizable_pairs(graph: Graph) -> list[tuple[Node, Node]]:
    """Consecutive (layer 1, layer 2) pairs whose rescaling leaves the graph's function exact."""
    pairs = []
    for first in graph.nodes:
        if not (_simple(graph, first) and _commutes_with_scaling(first)):
            continue
        out = first.outputs[0]
        users = graph.consumers(out)
        if graph.is_graph_io(out) or len(users) != 1:
            continue
        second = users[0]
        if _simple(graph, second) and second.inputs[0] == out:
            pairs.append((first, second))
    return pairs


def _scale_pair(graph: Graph, first: Node, second: Node) -> None:
    w1 = graph.tensors[first.inputs[1]].data.astype(np.float64)
    w2 = graph.tensors[second.inputs[1]].data.astype(np.float64)
    r1 = np.max(np.abs(w1), axis=_OUT_REDUCE[first.op])
    r2 = np.max(np.abs(w2), axis=_IN_REDUCE[second.op])
    ok = (r1 > 0) & (r2 > 0)
    s = np.ones_like(r1)
    s[ok] = np.clip(np.sqrt(r1[ok] / r2[ok]), 1.0 / _MAX_SCALE, _MAX_SCALE)
    out_shape = [1] * w1.ndim
    out_shape[0 if first.op != "depthwise_conv2d" else 2] = -1
    in_shape = [1] * w2.ndim
    in_shape[{"conv2d": 3, "depthwise_conv2d": 2, "fully_connected": 1}[second.op]] = -1
    graph.tensors[first.inputs[1]].data = (w1 / s.reshape(out_shape)).astype(np.float32)
    graph.tensors[second.inputs[1]].data = (w2 * s.reshape(in_shape)).astype(np.float32)
    b_name = first.inputs[2] if len(first.inputs) > 2 and first.inputs[2] else None
    if b_name:
        b = graph.tensors[b_name]
        b.data = (b.data.astype(np.float64) / s).astype(np.float32)


def equalize(graph: Graph, iterations: int = ITERATIONS) -> list[tuple[str, str]]:
    """Equalize every exact pair of ``graph`` in place; returns the pairs' node names."""
    pairs = equalizable_pairs(graph)
    for first, _ in pairs:  # biases are rescaled in place: each must belong to its layer alone
        b_name = first.inputs[2] if len(first.inputs) > 2 and first.inputs[2] else None
        if b_name and len(graph.consumers(b_name)) > 1:
            copy_name = graph.unique_name(f"{b_name}_{first.name}")
            graph.add_constant(copy_name, graph.tensors[b_name].data.copy())
            first.inputs[2] = copy_name
    for _ in range(iterations):
        for first, second in pairs:
            _scale_pair(graph, first, second)
    for first, _ in pairs:
        t = graph.tensors[first.outputs[0]]
        t.source_name, t.source_perm = None, None
    return [(a.name, b.name) for a, b in pairs]
