"""Global average pools quantized as TFLite MEAN when their output is much narrower than the input.

TFLite's int8 AVERAGE_POOL_2D keeps the input's scale and zero point on its output; MEAN
has its own (``reference.reduce``: the division folded into the output multiplier). A
global pool averages a wide activation into a vector whose values often span a fraction of
it (a squeeze-excite pool or a classifier head after hard-swish: a tenth of the input's
range on examples/realworld), and with the input's scale that vector keeps 4-5 bits.

Rule: a global ``avg_pool2d`` (window = the whole H x W, no padding, no fused clamp) whose
calibrated output span is less than half its input's becomes ``global_avg_pool``, which
quantizes to ``mean`` with the output's own parameters; otherwise (less than a bit to
gain) it stays a pool sharing its input's parameters, which the portable family may fuse
with a following fully connected layer (``avg_pool_fc``). Measured on the realworld models:
+1 dB (MobileNetV3-style) and +2 dB (Keras-style) output SQNR.
"""

from __future__ import annotations

from collections.abc import Mapping

from qcompile.ir import Graph, Node

#: the pooled span must be below this fraction of the input's span to earn its own scale
SPAN_RATIO = 0.5


def _span(rng: tuple[float, float]) -> float:
    lo, hi = min(float(rng[0]), 0.0), max(float(rng[1]), 0.0)
    return hi - lo


def is_global_pool(graph: Graph, node: Node) -> bool:
    """A global ``avg_pool2d`` (window = H x W, no padding, no fused clamp): MEAN can replace it."""
    shape = graph.tensors[node.inputs[0]].shape
    act = tuple(node.attrs.get("act_range") or (None, None))
    return (
        node.op == "avg_pool2d"
        and len(shape) == 4
        and tuple(node.attrs.get("kernel", ())) == tuple(shape[1:3])
        and not any(node.attrs.get("pads", (0, 0, 0, 0)))
        and act == (None, None)
    )


def prefer_mean(graph: Graph, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Turn the global pools that gain precision as MEAN into ``global_avg_pool`` (in place)."""
    for node in graph.nodes:
        x, y = node.inputs[0], node.outputs[0]
        if not is_global_pool(graph, node) or x not in ranges or y not in ranges:
            continue
        if _span(ranges[y]) < SPAN_RATIO * _span(ranges[x]):
            node.op = "global_avg_pool"
            node.attrs = {}
