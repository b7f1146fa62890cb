"""Float reference kernels for the float IR (after import and passes).

These are the meaning of the float IR: ``qcompile.reference.executor.run_float`` calls
them by op name with the node's attributes as keyword arguments. Importer tests compare
them with onnxruntime, so a float graph that runs here means what the ONNX model meant.
The quantizer also uses :func:`elementwise_function` to build the lookup tables of
``lut`` ops, so the table and the float graph share one definition of every function.

All kernels work on float32 or float64 arrays and return the dtype of their first
input (accumulations use numpy's own float arithmetic in that dtype). Layout is
physical: 4-D activations are NHWC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ActRange = tuple[float | None, float | None] | Sequence[float | None] | None


def _apply_act(y: np.ndarray, act_range: ActRange) -> np.ndarray:
    """Clamp to ``act_range`` ``(lo, hi)``; ``None`` on either side means unbounded."""
    if act_range is None:
        return y
    lo, hi = act_range
    if lo is not None:
        y = np.maximum(y, np.asarray(lo, dtype=y.dtype))
    if hi is not None:
        y = np.minimum(y, np.asarray(hi, dtype=y.dtype))
    return y


def _out_size(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> int:
    """Output extent of a sliding window: floor((size + pads - effective_kernel) / stride) + 1."""
    eff = (kernel - 1) * dilation + 1
    return (size + before + after - eff) // stride + 1


def _out_hw(
    x: np.ndarray, kh: int, kw: int, strides: Sequence[int], dilations: Sequence[int], pads: Sequence[int]
) -> tuple[int, int]:
    """(OH, OW) of a ``kh x kw`` window over NHWC ``x`` with ``pads`` (top, left, bottom, right)."""
    oh = _out_size(x.shape[1], kh, strides[0], dilations[0], pads[0], pads[2])
    ow = _out_size(x.shape[2], kw, strides[1], dilations[1], pads[1], pads[3])
    return oh, ow


def _windows(
    xp: np.ndarray, kh: int, kw: int, oh: int, ow: int, strides: Sequence[int], dilations: Sequence[int]
) -> list[tuple[int, int, np.ndarray]]:
    """Strided views of the padded input, one per kernel tap: ``[N, OH, OW, C]`` each."""
    sh, sw = strides
    dh, dw = dilations
    views = []
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            views.append((ky, kx, xp[:, y0 : y0 + (oh - 1) * sh + 1 : sh, x0 : x0 + (ow - 1) * sw + 1 : sw, :]))
    return views


def _pad_nhwc(x: np.ndarray, pads: Sequence[int], value: float) -> np.ndarray:
    t, left, b, r = (int(p) for p in pads)
    return np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), mode="constant", constant_values=value)


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int] = (1, 1),
    dilations: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    groups: int = 1,
    act_range: ActRange = None,
) -> np.ndarray:
    """2-D convolution, NHWC input, weights ``[OC, KH, KW, C/groups]``.

    ``y[n,oy,ox,oc] = b[oc] + sum_{ky,kx,ic} x[n, oy*sh - t + ky*dh, ox*sw - l + kx*dw, g*Cg + ic] * w[oc,ky,kx,ic]``
    with ``g = oc // (OC/groups)``; positions outside the input are zero. Then clamped to
    ``act_range``.
    """
    n, _, _, c = x.shape
    oc, kh, kw, cg = w.shape
    groups = int(groups)
    if cg * groups != c or oc % groups:
        raise ValueError(f"conv2d: input channels {c}, weight {w.shape}, groups {groups} do not match")
    ocg = oc // groups
    oh, ow = _out_hw(x, kh, kw, strides, dilations, pads)
    xp = _pad_nhwc(x, pads, 0.0)
    wg = w.astype(x.dtype, copy=False).reshape(groups, ocg, kh, kw, cg)
    acc = np.zeros((n, oh, ow, groups, ocg), dtype=x.dtype)
    for ky, kx, view in _windows(xp, kh, kw, oh, ow, strides, dilations):
        acc += np.einsum("nhwgc,goc->nhwgo", view.reshape(n, oh, ow, groups, cg), wg[:, :, ky, kx, :])
    y = acc.reshape(n, oh, ow, oc)
    if b is not None:
        y = y + b.astype(x.dtype, copy=False)
    return _apply_act(y, act_range)


def depthwise_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    strides: Sequence[int] = (1, 1),
    dilations: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    depth_multiplier: int = 1,
    act_range: ActRange = None,
) -> np.ndarray:
    """Depthwise convolution, weights ``[KH, KW, C*depth_multiplier]``.

    Output channel ``oc = ic * depth_multiplier + m`` reads only input channel ``ic``:
    ``y[n,oy,ox,oc] = b[oc] + sum_{ky,kx} x[n, oy*sh - t + ky*dh, ox*sw - l + kx*dw, oc // dm] * w[ky,kx,oc]``.
    """
    n, _, _, c = x.shape
    kh, kw, oc = w.shape
    dm = int(depth_multiplier)
    if c * dm != oc:
        raise ValueError(f"depthwise_conv2d: {c} input channels x {dm} != {oc} weight channels")
    oh, ow = _out_hw(x, kh, kw, strides, dilations, pads)
    xp = _pad_nhwc(x, pads, 0.0)
    wc = w.astype(x.dtype, copy=False)
    y = np.zeros((n, oh, ow, oc), dtype=x.dtype)
    for ky, kx, view in _windows(xp, kh, kw, oh, ow, strides, dilations):
        y += (np.repeat(view, dm, axis=-1) if dm > 1 else view) * wc[ky, kx]
    if b is not None:
        y = y + b.astype(x.dtype, copy=False)
    return _apply_act(y, act_range)


def fully_connected(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, act_range: ActRange = None
) -> np.ndarray:
    """``y[..., n] = b[n] + sum_k x[..., k] * w[n, k]`` (weights ``[N, K]``, leading dims are rows)."""
    y = x @ w.astype(x.dtype, copy=False).T
    if b is not None:
        y = y + b.astype(x.dtype, copy=False)
    return _apply_act(y, act_range)


def _binary(
    op: Callable[[np.ndarray, np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray, act_range: ActRange
) -> np.ndarray:
    """``op(a, b)`` in the common float dtype (at least float32), broadcast, then clamped."""
    dt = np.result_type(a.dtype, b.dtype, np.float32)
    return _apply_act(op(a.astype(dt, copy=False), b.astype(dt, copy=False)), act_range)


def add(a: np.ndarray, b: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    """``a + b`` with numpy broadcasting, then clamped to ``act_range``."""
    return _binary(np.add, a, b, act_range)


def sub(a: np.ndarray, b: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    """``a - b`` with numpy broadcasting, then clamped to ``act_range``."""
    return _binary(np.subtract, a, b, act_range)


def mul(a: np.ndarray, b: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    """``a * b`` with numpy broadcasting, then clamped to ``act_range``."""
    return _binary(np.multiply, a, b, act_range)


def maximum(a: np.ndarray, b: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    """Elementwise ``max(a, b)`` with numpy broadcasting (ONNX Max)."""
    return _binary(np.maximum, a, b, act_range)


def minimum(a: np.ndarray, b: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    """Elementwise ``min(a, b)`` with numpy broadcasting (ONNX Min)."""
    return _binary(np.minimum, a, b, act_range)


def prelu(x: np.ndarray, slope: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    """``x >= 0 ? x : slope * x``, ``slope`` broadcast to ``x`` (ONNX PRelu)."""
    return _binary(lambda v, s: np.where(v >= 0, v, v * s), x, slope, act_range)


def max_pool2d(
    x: np.ndarray,
    *,
    kernel: Sequence[int],
    strides: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    act_range: ActRange = None,
) -> np.ndarray:
    """Max over each window's valid (in-input) positions; padding never wins."""
    n, _, _, c = x.shape
    kh, kw = kernel
    oh, ow = _out_hw(x, kh, kw, strides, (1, 1), pads)
    xp = _pad_nhwc(x, pads, -np.inf)
    y = np.full((n, oh, ow, c), -np.inf, dtype=x.dtype)
    for _, _, view in _windows(xp, kh, kw, oh, ow, strides, (1, 1)):
        y = np.maximum(y, view)
    return _apply_act(y, act_range)


def avg_pool2d(
    x: np.ndarray,
    *,
    kernel: Sequence[int],
    strides: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    act_range: ActRange = None,
) -> np.ndarray:
    """Mean over each window's valid positions: padding is excluded from sum and count (TFLite)."""
    n, h, wd, c = x.shape
    kh, kw = kernel
    oh, ow = _out_hw(x, kh, kw, strides, (1, 1), pads)
    xp = _pad_nhwc(x, pads, 0.0)
    mp = _pad_nhwc(np.ones((1, h, wd, 1), dtype=x.dtype), pads, 0.0)
    total = np.zeros((n, oh, ow, c), dtype=x.dtype)
    count = np.zeros((1, oh, ow, 1), dtype=x.dtype)
    for (_, _, view), (_, _, mview) in zip(
        _windows(xp, kh, kw, oh, ow, strides, (1, 1)), _windows(mp, kh, kw, oh, ow, strides, (1, 1)), strict=True
    ):
        total += view
        count += mview
    return _apply_act(total / np.maximum(count, 1), act_range)


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """Mean over H and W of NHWC ``x``, kept as ``[N, 1, 1, C]`` (quantizes to TFLite MEAN)."""
    return np.mean(x, axis=(1, 2), keepdims=True, dtype=np.float64).astype(x.dtype)


def softmax(x: np.ndarray, *, beta: float = 1.0) -> np.ndarray:
    """``exp(beta * (x - max)) / sum(exp(beta * (x - max)))`` over the innermost axis."""
    z = (x - np.max(x, axis=-1, keepdims=True)) * np.asarray(beta, dtype=x.dtype)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def batch_matmul(a: np.ndarray, b: np.ndarray, *, adj_x: int = 0, adj_y: int = 0) -> np.ndarray:
    """``matmul(a, b)`` over the last two axes (each swapped first when ``adj_x``/``adj_y``),
    leading dims broadcast (TFLite BATCH_MATMUL, ONNX MatMul of two activations)."""
    lhs = np.swapaxes(a, -1, -2) if adj_x else a
    rhs = np.swapaxes(b, -1, -2) if adj_y else b
    return np.matmul(lhs, rhs.astype(lhs.dtype, copy=False))


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, epsilon: float = 1e-5) -> np.ndarray:
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` over the innermost axis (ONNX
    LayerNormalization with the normalised axes flattened to the last one)."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=-1, keepdims=True)
    var = np.square(x64 - mean).mean(axis=-1, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + float(epsilon)) * gamma.astype(np.float64) + beta.astype(np.float64)
    return y.astype(x.dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def elementwise_function(fn: str, **params: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The real function ``f`` of an ``elementwise`` node, vectorised over numpy arrays.

    ``sigmoid`` 1/(1+e^-x); ``tanh``; ``hard_sigmoid`` clip(alpha*x + beta, 0, 1)
    (defaults alpha=0.2, beta=0.5 as ONNX); ``hard_swish`` x * clip(x/6 + 1/2, 0, 1);
    ``leaky_relu`` x if x >= 0 else alpha*x (default alpha=0.01); ``relu`` max(x, 0);
    ``clip`` clip(x, min, max) where a missing/None/infinite bound is open;
    ``scale`` x * factor; and the functions of :mod:`qcompile.reference.unary_functions`
    (pow, sqrt, reciprocal, log, exp, abs, neg, erf, gelu, elu, selu, celu, softplus,
    softsign, mish). The result has the input's dtype, so the quantizer can call it on
    float64 grids and the float executor on float32 activations.
    """
    if fn == "sigmoid":
        return _sigmoid
    if fn == "tanh":
        return np.tanh
    if fn == "hard_sigmoid":
        alpha = float(params.get("alpha", 0.2))
        beta = float(params.get("beta", 0.5))
        return lambda x: np.clip(x * np.asarray(alpha, x.dtype) + np.asarray(beta, x.dtype), 0, 1).astype(x.dtype)
    if fn == "hard_swish":
        return lambda x: x * np.clip(x / np.asarray(6, x.dtype) + np.asarray(0.5, x.dtype), 0, 1).astype(x.dtype)
    if fn == "leaky_relu":
        alpha = float(params.get("alpha", 0.01))
        return lambda x: np.where(x >= 0, x, x * np.asarray(alpha, x.dtype)).astype(x.dtype, copy=False)
    if fn == "relu":
        return lambda x: np.maximum(x, np.asarray(0, x.dtype))
    if fn == "clip":
        lo = params.get("min")
        hi = params.get("max")
        lo = None if lo is None or lo == -np.inf else float(lo)
        hi = None if hi is None or hi == np.inf else float(hi)
        return lambda x: _apply_act(x, (lo, hi))
    if fn == "scale":
        factor = float(params["factor"])
        return lambda x: x * np.asarray(factor, x.dtype)
    from qcompile.reference.unary_functions import unary_function

    found = unary_function(fn, **params)
    if found is not None:
        return found
    raise ValueError(f"unknown elementwise function {fn!r}")


def elementwise(x: np.ndarray, *, fn: str, **params: Any) -> np.ndarray:
    """Apply :func:`elementwise_function` ``(fn, **params)`` to every element."""
    return elementwise_function(fn, **params)(x)


def concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    """Concatenate along the physical ``axis``."""
    dt = np.result_type(*[x.dtype for x in xs])
    return np.concatenate([x.astype(dt, copy=False) for x in xs], axis=int(axis))


def pad(x: np.ndarray, *, pads: Sequence[Sequence[int]], value: float = 0.0) -> np.ndarray:
    """Constant padding: ``pads`` is one ``(before, after)`` pair per axis."""
    return np.pad(x, [(int(b), int(a)) for b, a in pads], mode="constant", constant_values=value)


def transpose(x: np.ndarray, *, perm: Sequence[int]) -> np.ndarray:
    """Output axis ``i`` is input axis ``perm[i]`` (numpy's and ONNX's convention)."""
    return np.ascontiguousarray(np.transpose(x, tuple(int(p) for p in perm)))


def reshape(x: np.ndarray, *, shape: Sequence[int]) -> np.ndarray:
    """Row-major reshape to ``shape`` (fully resolved, no 0 or -1)."""
    return np.reshape(x, tuple(int(s) for s in shape))


def copy(x: np.ndarray) -> np.ndarray:
    """Identity with its own buffer."""
    return np.array(x, copy=True)


# The float IR's strided slice is the quantized one: it selects values whatever their type.
from qcompile.reference.kernels.slicing import strided_slice  # noqa: E402, F401
