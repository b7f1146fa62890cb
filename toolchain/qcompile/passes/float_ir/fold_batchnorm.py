"""Fold per-channel affine ops (BatchNormalization, Mul by a per-channel constant) into the
weights and bias of the conv / depthwise conv / fully connected layer producing their input.

The importer lowers a BatchNormalization to a 1x1 ``depthwise_conv2d`` (``y = x*s + t``
per channel) so a standalone BN still quantizes; when its input comes from a weighted
layer with an open ``act_range`` and no other reader, ``W*x + b`` followed by ``s*() + t``
is ``(s*W)*x + (s*b + t)``: one layer, fewer roundings, no extra tensor. A ``mul`` by a
constant that broadcasts along the channel axis (or an ``elementwise`` ``scale``) is the
same affine with ``t = 0``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qcompile.ir import Graph, Node
from qcompile.passes._util import channel_vector, const_data, fold_into_producers, is_open


def _affine_of(graph: Graph, node: Node, tensor: str, channels: int, rank: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, shift) per channel when ``node`` is a foldable affine of ``tensor``."""
    if node.op == "depthwise_conv2d":
        w = const_data(graph, node.inputs[1])
        a = node.attrs
        if (
            node.inputs[0] != tensor
            or w is None
            or w.shape[:2] != (1, 1)
            or int(a.get("depth_multiplier", 1)) != 1
            or tuple(a.get("strides", (1, 1))) != (1, 1)
            or any(a.get("pads", (0, 0, 0, 0)))
            or not is_open(a.get("act_range"))
        ):
            return None
        b = const_data(graph, node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else np.zeros(channels)
        if b is None:
            return None
        return w.reshape(-1).astype(np.float64), b.astype(np.float64)
    if node.op == "mul" and is_open(node.attrs.get("act_range")):
        other = node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]
        c = const_data(graph, other)
        s = None if c is None else channel_vector(c, channels, rank)
        return None if s is None else (s, np.zeros(channels))
    if node.op == "elementwise" and node.attrs.get("fn") == "scale":
        return np.full(channels, float(node.attrs["factor"])), np.zeros(channels)
    return None


def fold_affine(graph: Graph, producer: Node, scale: np.ndarray, shift: np.ndarray) -> None:
    """Rewrite ``producer``'s weights and bias to include ``y*scale + shift`` (new constants,
    so weights shared with other nodes are untouched)."""
    w = graph.tensors[producer.inputs[1]].data.astype(np.float64)
    if producer.op == "depthwise_conv2d":
        w2 = w * scale
    elif producer.op == "conv2d":
        w2 = w * scale[:, None, None, None]
    else:
        w2 = w * scale[:, None]
    wname = graph.add_constant(producer.inputs[1] + "_folded", w2.astype(np.float32)).name
    producer.inputs[1] = wname
    fold_into_bias(graph, producer, lambda b: b * scale + shift)


def fold_into_bias(graph: Graph, producer: Node, update: Callable[[np.ndarray], np.ndarray]) -> None:
    """Give ``producer`` the new constant bias ``update(bias)`` (float64 in, a zero vector
    when it has none); the old bias constant is left for other readers or pruning."""
    has_bias = len(producer.inputs) > 2 and producer.inputs[2]
    channels = graph.tensors[producer.outputs[0]].shape[-1]
    b = graph.tensors[producer.inputs[2]].data.astype(np.float64) if has_bias else np.zeros(channels)
    base = producer.inputs[2] if has_bias else producer.name + "_bias"
    bname = graph.add_constant(base + "_folded", update(b).astype(np.float32)).name
    producer.inputs = [producer.inputs[0], producer.inputs[1], bname]


def _channels(graph: Graph, producer: Node) -> int:
    return graph.tensors[producer.outputs[0]].shape[-1]


def _fold(graph: Graph, producer: Node, out: str, user: Node) -> bool:
    if const_data(graph, producer.inputs[1]) is None:
        return False
    if len(producer.inputs) > 2 and producer.inputs[2] and const_data(graph, producer.inputs[2]) is None:
        return False
    affine = _affine_of(graph, user, out, _channels(graph, producer), len(graph.tensors[out].shape))
    if affine is None or tuple(graph.tensors[user.outputs[0]].shape) != tuple(graph.tensors[out].shape):
        return False
    fold_affine(graph, producer, *affine)
    return True


def run(graph: Graph) -> Graph:
    return fold_into_producers(graph, _fold)
