"""Memory traffic of one quantized node: the bytes its kernel reads and writes per inference.

The memory-region planner (:mod:`qcompile.memory.regions`) puts the buffers with the most
traffic in the fastest region, so it needs, per node, how many bytes each activation it
touches is read or written. The count is a model of the portable and DSP kernels, not a
measurement, and only its ranking matters:

- every output is written once (its bytes);
- sliding-window ops (``conv2d``, ``conv2d_add``, ``depthwise_conv2d``, pools,
  ``transpose_conv2d``) read, per output pixel, the window of input bytes it covers
  (``kh * kw * in_c`` for a conv: the im2col gather; ``kh * kw * channels`` for a
  depthwise or a pool): the MAC count without the output-channel factor;
- ``fully_connected``, ``avg_pool_fc`` and ``batch_matmul`` read their activation inputs
  once per output row (each row's K bytes feed every output unit from registers);
- every other input (element-wise, data movement, a residual) is read once (its bytes);
- a node's scratch is written and read once per output pixel window (twice its input
  traffic, capped below by its size): im2col buffers are the hottest bytes of a conv.
"""

from __future__ import annotations

import math
from typing import Any

#: sliding-window ops whose input is read once per output pixel window
WINDOW_OPS = frozenset({"conv2d", "conv2d_add", "depthwise_conv2d", "max_pool2d", "avg_pool2d", "transpose_conv2d"})


def _window_reads(graph: Any, node: Any) -> int:
    """Input bytes a sliding-window node reads: per output pixel, the window it covers."""
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    xs, ys = tuple(int(d) for d in x.shape), tuple(int(d) for d in y.shape)
    if len(xs) != 4 or len(ys) != 4:
        return int(x.nbytes)
    if node.op in ("max_pool2d", "avg_pool2d"):
        kh, kw = (int(k) for k in node.attrs.get("kernel", (1, 1)))
        depth = xs[3]
    else:
        ws = tuple(int(d) for d in graph.tensors[node.inputs[1]].shape)
        kh, kw = (ws[1], ws[2]) if len(ws) == 4 else (ws[0], ws[1])
        depth = ws[3] if len(ws) == 4 and node.op != "transpose_conv2d" else 1
        if node.op == "depthwise_conv2d":
            depth = ys[3]
        elif node.op == "transpose_conv2d":
            depth = xs[3]
    pixels = ys[0] * ys[1] * ys[2]
    itemsize = int(x.nbytes) // max(1, math.prod(xs))
    return pixels * kh * kw * depth * itemsize


def access_bytes(graph: Any, node: Any, scratch: int = 0) -> tuple[dict[str, int], int]:
    """``({tensor: bytes read + written}, scratch bytes accessed)`` of ``node`` per inference.

    Constants are left out (they live in flash). ``scratch`` is the node's scratch size."""
    counts: dict[str, int] = {}

    def add(name: str, n: int) -> None:
        if name and graph.tensors[name].data is None:
            counts[name] = counts.get(name, 0) + int(n)

    for o in node.outputs:
        add(o, graph.tensors[o].nbytes)
    first = 0
    if node.op in WINDOW_OPS and node.inputs and node.outputs:
        first = _window_reads(graph, node)
        add(node.inputs[0], first)
    for i, name in enumerate(node.inputs):
        if name and not (i == 0 and first):
            add(name, graph.tensors[name].nbytes)
    scratch_traffic = max(2 * first, scratch) if scratch else 0
    return counts, scratch_traffic


__all__ = ["WINDOW_OPS", "access_bytes"]
