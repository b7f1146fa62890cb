"""Fuse relu / relu6 / clip into the producer's ``act_range``.

In int8 the clamp is free inside the producer (it narrows ``act_min``/``act_max``) and
the fused output gets a tighter quantization range, so a standalone activation op is
both slower and less accurate. The fused tensor is the activation's output (its
``source_name`` names the clamped ONNX tensor, which is what calibration must see).
Only when the producer's output has a single reader and is not a graph output, and the
two ranges overlap (nested clamps equal one clamp to the intersection only then).
"""

from __future__ import annotations

from qcompile.ir import Graph, Node
from qcompile.passes._util import replace_producer_output, sole_consumer

PRODUCERS = ("conv2d", "depthwise_conv2d", "fully_connected", "add", "sub", "max_pool2d", "avg_pool2d")


def activation_range(node: Node) -> tuple[float | None, float | None] | None:
    """The clamp an elementwise node applies, or None when it is not a pure clamp."""
    if node.op != "elementwise":
        return None
    fn = node.attrs.get("fn")
    if fn == "relu":
        return (0.0, None)
    if fn == "clip":
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
        return (None if lo is None else float(lo), None if hi is None else float(hi))
    return None


def intersect(
    a: tuple[float | None, float | None], b: tuple[float | None, float | None]
) -> tuple[float | None, float | None] | None:
    """``clamp(clamp(x, a), b)`` as one range, or None when the ranges do not overlap."""
    lo_vals = [v for v in (a[0], b[0]) if v is not None]
    hi_vals = [v for v in (a[1], b[1]) if v is not None]
    lo = max(lo_vals) if lo_vals else None
    hi = min(hi_vals) if hi_vals else None
    if lo is not None and hi is not None and lo > hi:
        return None
    if (a[1] is not None and b[0] is not None and b[0] > a[1]) or (
        a[0] is not None and b[1] is not None and b[1] < a[0]
    ):
        return None
    return (lo, hi)


def run(graph: Graph) -> Graph:
    changed = True
    while changed:
        changed = False
        for producer in list(graph.nodes):
            if producer.op not in PRODUCERS or len(producer.outputs) != 1:
                continue
            out = producer.outputs[0]
            user = sole_consumer(graph, out)
            rng = None if user is None else activation_range(user)
            if rng is None:
                continue
            cur = producer.attrs.get("act_range") or (None, None)
            merged = intersect((cur[0], cur[1]), rng)
            if merged is None:
                continue
            producer.attrs["act_range"] = merged
            replace_producer_output(graph, producer, out, user)
            changed = True
    return graph
