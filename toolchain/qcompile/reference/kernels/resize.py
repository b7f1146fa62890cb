"""numpy reference of the int8 resizes of an NHWC tensor (TFLite RESIZE_NEAREST_NEIGHBOR and
RESIZE_BILINEAR, ONNX Resize).

``resize_nearest`` copies ``x[n, y_index[y], x_index[x], c]``: the index tables are computed
at compile time (TFLM computes them in float32, ``tflite_nearest_index``; ONNX models use
ONNX's own coordinate formulas, ``onnx_nearest_index``), so the C does no float math.

``resize_bilinear`` is TFLM's ``ResizeBilinearInteger`` (all integer, 10 fractional bits)::

    scale_10 = ((1 << 10) * in + out / 2) / out                  (align_corners and out > 1:
                                                                  ((1 << 10) * (in-1) + (out-1) / 2) / (out-1))
    v        = half_pixel_centers ? i * scale_10 + scale_10 / 2 - 512 : i * scale_10
    i0       = max(v / 1024, 0);  i1 = min((v + 1023) / 1024, in - 1);  d = v - 1024 * i0
    acc      = x[y0,x0] * (1024-dy)(1024-dx) + x[y1,x0] * dy(1024-dx) + x[y0,x1] * (1024-dy)dx + x[y1,x1] * dy dx
    out      = (acc + (acc > 0 ? 2^19 : -2^19)) / 2^20

(C division, truncating toward zero.) Raw int8 values are blended: the weights sum to
2^20, so the zero point passes through and input and output share their quantization.
``i0`` is also clamped to ``in - 1`` (TFLM reads past the row for a few odd size pairs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def bilinear_axis(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool):
    """TFLM's integer (i0, i1, d) per output coordinate, as int64 arrays."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    i0, i1, d = [], [], []
    for i in range(out_size):
        v = i * scale + scale // 2 - (1 << 9) if half_pixel_centers else i * scale
        lo = min(max(_cdiv(v, 1 << 10), 0), in_size - 1)
        hi = min(_cdiv(v + (1 << 10) - 1, 1 << 10), in_size - 1)
        i0.append(lo)
        i1.append(max(hi, 0))
        d.append(v - (1 << 10) * lo)
    return np.array(i0, np.int64), np.array(i1, np.int64), np.array(d, np.int64)


def tflite_nearest_index(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """TFLM's ``GetNearestNeighbor`` for every output coordinate, in float32 as TFLM computes it."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    out = []
    for i in range(out_size):
        v = f32(f32(i) + offset) * scale
        j = int(math.copysign(math.floor(abs(float(v)) + 0.5), float(v))) if align_corners else math.floor(v)
        j = min(j, in_size - 1)
        out.append(max(j, 0) if half_pixel_centers else j)
    return out


ONNX_NEAREST_COORDINATES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")
ONNX_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def onnx_original_coordinate(i: int, in_size: int, out_size: int, scale: float, mode: str) -> float:
    """ONNX Resize's ``coordinate_transformation_mode`` (float64), ``scale = out / in`` or the given scale."""
    if mode == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if out_size > 1 else 0.0
    if mode == "align_corners":
        return 0.0 if out_size == 1 else i * (in_size - 1) / (out_size - 1)
    if mode == "asymmetric":
        return i / scale
    if mode == "tf_half_pixel_for_nn":
        return (i + 0.5) / scale
    raise ValueError(f"coordinate_transformation_mode {mode!r} is not supported")


def onnx_nearest_index(in_size: int, out_size: int, scale: float, coordinate_mode: str, nearest_mode: str) -> list[int]:
    """ONNX Resize nearest: the source index of every output coordinate, clamped to the input."""
    out = []
    for i in range(out_size):
        x = onnx_original_coordinate(i, in_size, out_size, scale, coordinate_mode)
        if nearest_mode == "round_prefer_floor":
            j = math.ceil(x - 0.5)
        elif nearest_mode == "round_prefer_ceil":
            j = math.floor(x + 0.5)
        elif nearest_mode == "floor":
            j = math.floor(x)
        elif nearest_mode == "ceil":
            j = math.ceil(x)
        else:
            raise ValueError(f"nearest_mode {nearest_mode!r} is not supported")
        out.append(min(max(j, 0), in_size - 1))
    return out


def _check_nhwc(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.int8 or x.ndim != 4:
        raise ValueError(f"{what} takes an int8 [N,H,W,C] tensor, got {x.dtype} {x.shape}")
    return x


def resize_nearest(x: np.ndarray, *, y_index: Sequence[int], x_index: Sequence[int]) -> np.ndarray:
    """``out[n, y, x, c] = x[n, y_index[y], x_index[x], c]``."""
    x = _check_nhwc(x, "resize_nearest")
    yi = np.asarray(y_index, dtype=np.int64).reshape(-1)
    xi = np.asarray(x_index, dtype=np.int64).reshape(-1)
    if yi.size == 0 or xi.size == 0 or yi.min() < 0 or xi.min() < 0:
        raise ValueError("resize_nearest index tables must be non-empty and non-negative")
    if yi.max() >= x.shape[1] or xi.max() >= x.shape[2]:
        raise ValueError(f"resize_nearest indices exceed the input {x.shape[1]}x{x.shape[2]}")
    return x[:, yi][:, :, xi]


def resize_bilinear(x: np.ndarray, *, size: Sequence[int], align_corners: int, half_pixel_centers: int) -> np.ndarray:
    """TFLM's integer bilinear resize to ``size = (out_h, out_w)`` (see the module docstring)."""
    x = _check_nhwc(x, "resize_bilinear")
    out_h, out_w = (int(s) for s in size)
    if out_h < 1 or out_w < 1 or out_h > 1 << 16 or out_w > 1 << 16:
        raise ValueError(f"resize_bilinear output size {out_h}x{out_w} is not supported (1..65536)")
    if align_corners and half_pixel_centers:
        raise ValueError("align_corners and half_pixel_centers cannot both be set")
    y0, y1, dy = bilinear_axis(x.shape[1], out_h, bool(align_corners), bool(half_pixel_centers))
    x0, x1, dx = bilinear_axis(x.shape[2], out_w, bool(align_corners), bool(half_pixel_centers))
    v = x.astype(np.int64)
    wy0, wy1 = (1024 - dy)[None, :, None, None], dy[None, :, None, None]
    wx0, wx1 = (1024 - dx)[None, None, :, None], dx[None, None, :, None]
    acc = (
        v[:, y0][:, :, x0] * wy0 * wx0
        + v[:, y1][:, :, x0] * wy1 * wx0
        + v[:, y0][:, :, x1] * wy0 * wx1
        + v[:, y1][:, :, x1] * wy1 * wx1
    )
    rounded = acc + np.where(acc > 0, 1 << 19, -(1 << 19))
    out = np.sign(rounded) * (np.abs(rounded) >> 20)
    return np.clip(out, -128, 127).astype(np.int8)
