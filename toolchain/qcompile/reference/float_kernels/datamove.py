"""Float-IR kernels of the reductions, gather, resizes and the transposed convolution
(the float meaning of the ops in ``reference/kernels/``: reduce_axes, gather, resize,
transpose_conv). Physical layout; the importers compute index tables and pads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.reference.float_ops import ActRange, _apply_act
from qcompile.reference.kernels.resize import onnx_original_coordinate
from qcompile.reference.kernels.transpose_conv import transpose_conv_out_hw


def _reduce(fn, x: np.ndarray, axes: Sequence[int], keep_dims: int) -> np.ndarray:
    return fn(x, axis=tuple(int(a) for a in axes), keepdims=bool(keep_dims)).astype(x.dtype, copy=False)


def reduce_mean(x: np.ndarray, *, axes: Sequence[int], keep_dims: int) -> np.ndarray:
    return _reduce(np.mean, x, axes, keep_dims)


def reduce_sum(x: np.ndarray, *, axes: Sequence[int], keep_dims: int) -> np.ndarray:
    return _reduce(np.sum, x, axes, keep_dims)


def reduce_max(x: np.ndarray, *, axes: Sequence[int], keep_dims: int) -> np.ndarray:
    return _reduce(np.max, x, axes, keep_dims)


def gather(x: np.ndarray, *, axis: int, indices: Sequence[int]) -> np.ndarray:
    return np.take(x, np.asarray(indices, dtype=np.int64).reshape(-1), axis=int(axis))


def resize_nearest(x: np.ndarray, *, y_index: Sequence[int], x_index: Sequence[int]) -> np.ndarray:
    return x[:, np.asarray(y_index, dtype=np.int64)][:, :, np.asarray(x_index, dtype=np.int64)]


def _linear_axis(in_size: int, out_size: int, align_corners: int, half_pixel_centers: int):
    """Source coordinates of a linear resize, clamped to the input (ONNX and TFLite agree)."""
    mode = "align_corners" if align_corners else ("half_pixel" if half_pixel_centers else "asymmetric")
    pos = np.array([onnx_original_coordinate(i, in_size, out_size, out_size / in_size, mode) for i in range(out_size)])
    pos = np.clip(pos, 0.0, in_size - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    return lo, hi, pos - lo


def resize_bilinear(x: np.ndarray, *, size: Sequence[int], align_corners: int, half_pixel_centers: int) -> np.ndarray:
    oh, ow = (int(s) for s in size)
    y0, y1, fy = _linear_axis(x.shape[1], oh, align_corners, half_pixel_centers)
    x0, x1, fx = _linear_axis(x.shape[2], ow, align_corners, half_pixel_centers)
    fy = fy.astype(x.dtype)[None, :, None, None]
    fx = fx.astype(x.dtype)[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bottom = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(x.dtype, copy=False)


def transpose_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    act_range: ActRange = None,
) -> np.ndarray:
    """NHWC transposed conv, weights ``[OC, KH, KW, C]``, pads (top, left, bottom, right)."""
    n, h, wd, _ = x.shape
    oc, kh, kw, _ = w.shape
    oh, ow = transpose_conv_out_hw(x.shape, w.shape, strides, pads)
    sh, sw = (int(s) for s in strides)
    top, left = int(pads[0]), int(pads[1])
    full = np.zeros((n, max((h - 1) * sh + kh, top + oh), max((wd - 1) * sw + kw, left + ow), oc), dtype=x.dtype)
    wt = w.astype(x.dtype, copy=False)
    for fy in range(kh):
        for fx in range(kw):
            full[:, fy : fy + (h - 1) * sh + 1 : sh, fx : fx + (wd - 1) * sw + 1 : sw, :] += x @ wt[:, fy, fx, :].T
    y = full[:, top : top + oh, left : left + ow, :]
    if b is not None:
        y = y + b.astype(x.dtype, copy=False)
    return _apply_act(y, act_range)
