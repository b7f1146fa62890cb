"""Overlapped in-place: a conv-like output written over the input it is consuming, a few rows behind.

Layer by layer, a node's input and output are live together, so a chain of equal-sized
tensors (DS-CNN's 25x5x64 depthwise/pointwise chain, MobileNet's blocks) needs two whole
tensors. But a kernel that walks its output pixels in raster order stops reading the
top of its input as it goes: output pixel ``o`` only reads input pixels from
``m[o]`` on (the first pixel of its window, clipped), and no later output reads below
that either. So the output may start a little *before* the input, overlapping it: a
depthwise 3x3 with "same" padding writes pixel ``(y, x)`` where input pixel
``(y - 1, x - 1)`` was, which no later output reads. The gap (``pad_top`` rows and
``pad_left`` pixels) is the line buffer; no copy, no extra instruction, the same kernel.

Two access-order contracts make this exact; a kernel family declares which one each of
its kernels keeps (:meth:`qcompile.codegen.families.KernelFamily.overlap_contracts`):

- :data:`PIXELS`: output pixels are produced in raster order, in blocks; a block's
  outputs are written only after every input read of the block (the portable conv and
  depthwise kernels, the DSP conv: its im2col copies the block's windows to scratch
  first). Safe when, for every count ``n`` of finished output pixels, the output bytes
  written so far end at or before the first input byte still to be read:
  ``out + n * out_px <= in + m[n] * in_px`` (``m[n]``: the smallest input pixel any
  output from ``n`` on reads). That bounds ``D = out - in`` from above.
- :data:`INTERLEAVED`: output pixels in raster order, but a pixel's outputs are written while
  its own window is still being read (the Helium conv: four output channels at a time, each
  group re-reading the window in place). Safe when the bytes written up to and including
  pixel ``n`` end at or before the first input byte pixel ``n`` reads:
  ``out + (n + 1) * out_px <= in + m[n] * in_px``, one output pixel stricter than ``PIXELS``;
  :data:`INTERLEAVED4` the same for blocks of four pixels (the NEON conv: ``n + 4``).
- :data:`CHANNEL`: per channel, outputs are written in raster order, each after its own
  window's reads, channels independent (the DSP depthwise, which writes four channels of
  a pixel before it reads the next four). With input and output of the same channel
  count and ``D`` a whole number ``s`` of pixels, channel ``c`` of output ``o`` lands on
  channel ``c`` of input pixel ``o + s``; safe when ``o + s <= m[o]`` for every ``o``.

:func:`find_overlaps` marks, in schedule order, each node with a contract that reads its
input buffer for the last time and creates its output buffer: the two buffers may then
overlap, with ``D`` at most the largest safe offset rounded down to the arena alignment
(exactly it for ``CHANNEL``, whose ``D`` must stay a whole number of pixels), or not
overlap at all. Placement (:mod:`qcompile.memory.placement`) honours that; each pair only
constrains its own two buffers, so a chain does not have to drift. Chains merge again, so a
whole depthwise/pointwise chain is one buffer of one tensor plus the accumulated gaps.
Batch must be 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from qcompile.ir import Graph, Node
from qcompile.memory.aliases import Aliases
from qcompile.memory.lifetimes import Buffer

#: blocks of output pixels, each written after all of the block's input reads
PIXELS = "pixels"
#: pixels in raster order, each pixel's outputs written while its window is still read
INTERLEAVED = "interleaved"
#: the same for blocks of 4 pixels (a block's outputs written while its windows are still read)
INTERLEAVED4 = "interleaved4"
#: per channel, outputs in raster order, channels independent (same channel count in and out)
CHANNEL = "channel"
CONTRACTS = (PIXELS, INTERLEAVED, INTERLEAVED4, CHANNEL)

#: ops whose window geometry :func:`window_of` knows
WINDOW_OPS = ("conv2d", "conv2d_add", "depthwise_conv2d")


@dataclass(frozen=True)
class Window:
    """Geometry of a batch-1 sliding-window node (NHWC), enough to know what it reads when."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    dh: int = 1
    dw: int = 1
    elem: int = 1  # bytes per element (2 for 16x8 layers: int16 input and output)


def window_of(graph: Graph, node: Node) -> Window | None:
    """The :class:`Window` of a conv/depthwise node with batch-1 4-D tensors, else None."""
    if node.op not in WINDOW_OPS or len(node.outputs) != 1 or len(node.inputs) < 2:
        return None
    xs = tuple(int(d) for d in graph.tensors[node.inputs[0]].shape)
    ys = tuple(int(d) for d in graph.tensors[node.outputs[0]].shape)
    ws = tuple(int(d) for d in graph.tensors[node.inputs[1]].shape)
    if len(xs) != 4 or len(ys) != 4 or xs[0] != 1 or ys[0] != 1 or len(ws) not in (3, 4):
        return None
    a = node.attrs
    kh, kw = (ws[1], ws[2]) if len(ws) == 4 else (ws[0], ws[1])
    dil = tuple(int(d) for d in a.get("dilations", (1, 1)))
    return Window(
        in_h=xs[1],
        in_w=xs[2],
        in_c=xs[3],
        out_h=ys[1],
        out_w=ys[2],
        out_c=ys[3],
        kh=kh,
        kw=kw,
        sh=int(a["strides"][0]),
        sw=int(a["strides"][1]),
        pt=int(a["pads"][0]),
        pl=int(a["pads"][1]),
        dh=dil[0],
        dw=dil[1],
        elem=np.dtype(graph.tensors[node.outputs[0]].dtype).itemsize,
    )


def _first_valid(out_n: int, stride: int, pad: int, kernel: int, dil: int, size: int) -> np.ndarray:
    """Per output index: the first input index its window reads (``size`` when all padding)."""
    starts = np.arange(out_n, dtype=np.int64) * stride - pad
    taps = starts[:, None] + np.arange(kernel, dtype=np.int64)[None, :] * dil
    taps = np.where((taps >= 0) & (taps < size), taps, size)
    return taps.min(axis=1)


def first_reads(w: Window) -> np.ndarray:
    """``m[n]`` for n in 0..P: the smallest input pixel read by any output pixel from ``n`` on
    (raster order); ``m[P]`` is the input's pixel count (nothing is read any more)."""
    total = w.in_h * w.in_w
    rows = _first_valid(w.out_h, w.sh, w.pt, w.kh, w.dh, w.in_h)
    cols = _first_valid(w.out_w, w.sw, w.pl, w.kw, w.dw, w.in_w)
    empty = (rows[:, None] >= w.in_h) | (cols[None, :] >= w.in_w)
    first = np.where(empty, total, rows[:, None] * w.in_w + cols[None, :]).reshape(-1)
    suffix = np.minimum.accumulate(first[::-1])[::-1]
    return np.concatenate([suffix, [total]])


def max_offset(w: Window, contract: str, alignment: int) -> int | None:
    """The largest ``D = out - in`` (bytes, a multiple of ``alignment``) at which the output
    may overlap the input under ``contract``, or None when the contract does not apply."""
    m = first_reads(w)
    pixels = w.out_h * w.out_w
    if contract == PIXELS:
        n = np.arange(1, pixels, dtype=np.int64)
        bound = int(np.min(m[1:pixels] * w.in_c - n * w.out_c)) * w.elem if pixels > 1 else 0
        step = alignment
    elif contract in (INTERLEAVED, INTERLEAVED4):
        n = np.arange(pixels, dtype=np.int64)
        ahead = np.minimum(n + (1 if contract == INTERLEAVED else 4), pixels)
        bound = int(np.min(m[:pixels] * w.in_c - ahead * w.out_c))
        step = alignment
    elif contract == CHANNEL:
        if w.in_c != w.out_c:
            return None
        bound = int(np.min(m[:pixels] - np.arange(pixels, dtype=np.int64))) * w.in_c * w.elem
        step = math.lcm(alignment, w.in_c * w.elem)
    else:
        raise ValueError(f"unknown overlap contract {contract!r}")
    return bound // step * step


def find_overlaps(
    graph: Graph,
    groups: dict[str, Buffer],
    aliases: Aliases,
    contracts: Mapping[str, str],
    alignment: int,
) -> dict[str, tuple[Buffer, Buffer, int]]:
    """Let each eligible node's output buffer overlap its dying input's (module doc).

    ``contracts``: node name -> :data:`PIXELS` or :data:`CHANNEL` for the nodes whose kernel
    keeps that access order. Marks the pair on the buffers (``Buffer.below`` / ``above``,
    which placement honours) and returns node name -> (input buffer, output buffer, largest
    safe ``D``).
    """
    chosen: dict[str, tuple[Buffer, Buffer, int]] = {}
    for step, node in enumerate(graph.nodes):
        contract = contracts.get(node.name)
        w = window_of(graph, node) if contract else None
        if w is None or not node.inputs[0]:
            continue
        rx, ry = aliases.find(node.inputs[0]), aliases.find(node.outputs[0])
        a, b = groups.get(rx), groups.get(ry)
        if a is None or b is None or rx == ry or a.last != step or b.first != step:
            continue
        if any(i and aliases.find(i) in (rx, ry) for i in node.inputs[1:]):
            continue
        d = max_offset(w, contract, alignment)
        if d is None or _shared(a.size, b.size, d) <= 0:
            continue
        b.below[a.key] = (d, contract)
        a.above[b.key] = (d, contract)
        chosen[node.name] = (a, b, d)
    return chosen


def _shared(in_size: int, out_size: int, d: int) -> int:
    """Bytes an output at ``d`` from its input shares with it."""
    return max(0, min(in_size, d + out_size) - max(0, d))


def shared_bytes(chosen: Mapping[str, tuple[Buffer, Buffer, int]], steps: Mapping[str, int]) -> dict[int, int]:
    """Step -> bytes the overlapped pairs there share at best (for the lower bound)."""
    result: dict[int, int] = {}
    for name, (a, b, d) in chosen.items():
        result[steps[name]] = result.get(steps[name], 0) + _shared(a.size, b.size, d)
    return result


__all__ = [
    "CHANNEL",
    "CONTRACTS",
    "INTERLEAVED",
    "INTERLEAVED4",
    "PIXELS",
    "WINDOW_OPS",
    "Window",
    "first_reads",
    "max_offset",
    "find_overlaps",
    "shared_bytes",
    "window_of",
]
