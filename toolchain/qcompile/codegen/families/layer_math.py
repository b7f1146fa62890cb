"""Layer arithmetic the specialised kernel families share (the DSP family's int8 and 16x8
modules, MVE, NEON): int32 wrapping, per-channel vectors, the interior of a convolution
window, depthwise geometry. Apart from ``dsp.py`` so that ``dsp_s16.py`` uses them without
importing the module that imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from qcompile.codegen.lowering_base import LoweringBase as Lowering
    from qcompile.ir import Node

_MASK32 = (1 << 32) - 1


def _wrap32(values: np.ndarray) -> np.ndarray:
    """int64 values reduced modulo 2^32 into int32 range (the reference's int32 wrap)."""
    v = np.asarray(values, dtype=np.int64) & _MASK32
    return np.where(v >= 2**31, v - 2**32, v).astype(np.int64)


def _interior(out: int, pad: int, stride: int, kernel: int, size: int) -> tuple[int, int]:
    """Output index range [lo, hi) whose whole window lies inside the input."""
    lo = -(-pad // stride)
    hi = min(out, (size + pad - kernel) // stride + 1)
    return (lo, hi) if hi > lo else (0, 0)


def depthwise_geometry(lo: Lowering, node: Node) -> dict[str, Any]:
    """Shapes, strides, pads, interior pixel ranges and tap offsets (elements) of a depthwise
    layer, as template context (the int8 and the 16x8 depthwise templates)."""
    a = node.attrs
    xs, ys = lo.shape(node.inputs[0]), lo.shape(node.outputs[0])
    kh, kw, c = lo.shape(node.inputs[1])
    sh, sw = int(a["strides"][0]), int(a["strides"][1])
    pt, pl = int(a["pads"][0]), int(a["pads"][1])
    oy_lo, oy_hi = _interior(ys[1], pt, sh, kh, xs[1])
    ox_lo, ox_hi = _interior(ys[2], pl, sw, kw, xs[2])
    geo = {"batches": xs[0], "in_h": xs[1], "in_w": xs[2], "channels": c, "out_h": ys[1], "out_w": ys[2]}
    geo.update(kh=kh, kw=kw, sh=sh, sw=sw, pt=pt, pl=pl, oy_lo=oy_lo, oy_hi=oy_hi, ox_lo=ox_lo, ox_hi=ox_hi)
    geo.update(taps=kh * kw, tap_offsets=[(ky * xs[2] + kx) * c for ky in range(kh) for kx in range(kw)])
    return geo


def _int_vector(values: Any, n: int) -> np.ndarray:
    """A per-channel attribute as n int64 values (a scalar is broadcast)."""
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    return np.repeat(arr, n) if arr.size == 1 else arr
