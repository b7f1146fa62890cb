"""int8 reference of the attention ops: ``batch_matmul`` and ``layer_norm`` (the spec).

``batch_matmul`` is TFLite's int8 BATCH_MATMUL (``reference_ops::BatchMatMul`` as TFLM
runs it): both operands are activations with their own zero points, leading dims
broadcast, int32 accumulation, one ``MultiplyByQuantizedMultiplier``.

``layer_norm`` is qcompile's own integer LayerNorm (TFLite has no int8 LAYER_NORM op):
mean and variance exact in integers, an integer square root and reciprocal, an int16
normalised value, then per-channel gamma/beta as int32 multipliers with one 64-bit
rounding shift. docs/QUANTIZATION.md ("layer_norm") states it and when it is exact.
The C twins are ``runtime_c/src/qc_batch_matmul.c`` and ``qc_layer_norm.c``.
"""

from __future__ import annotations

import math

import numpy as np

from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier

#: leading (batch) dims a batch_matmul operand may have: rank <= 5, as TFLite's kernel
BATCH_DIMS = 3
#: longest accumulation: K * 255 * 255 stays below 2^31
MAX_DEPTH = 32768
#: layer_norm: the normalised value is int16 with 15 fractional bits (|t| <= 1)
NORM_BITS = 15
#: longest normalised row: sum of squares of D = C*q - S stays below 2^53
MAX_COLS = 4096


def _check_common(offsets, act_min: int, act_max: int) -> None:
    if any(not -128 <= int(o) <= 128 for o in offsets[:2]) or not -128 <= int(offsets[2]) <= 127:
        raise ValueError("input offsets must lie in [-128, 128] and the output offset in [-128, 127]")
    if not -128 <= int(act_min) <= int(act_max) <= 127:
        raise ValueError("need -128 <= act_min <= act_max <= 127")


def matmul_operands(a: np.ndarray, b: np.ndarray, adj_x: int, adj_y: int) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` of a BATCH_MATMUL, int8 or 16x8: ``a`` and ``b`` with their last two axes
    swapped when ``adj_x`` / ``adj_y``, checked for rank, inner size, depth and batch broadcast."""
    if not (2 <= a.ndim <= 2 + BATCH_DIMS and 2 <= b.ndim <= 2 + BATCH_DIMS):
        raise ValueError(f"batch_matmul operands must have rank 2..{2 + BATCH_DIMS}")
    lhs = np.swapaxes(a, -1, -2) if adj_x else a
    rhs = np.swapaxes(b, -1, -2) if adj_y else b
    if lhs.shape[-1] != rhs.shape[-2]:
        raise ValueError(f"inner dimensions differ: {lhs.shape} x {rhs.shape}")
    if lhs.shape[-1] > MAX_DEPTH:
        raise ValueError(f"accumulation depth {lhs.shape[-1]} exceeds {MAX_DEPTH}")
    np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2])
    return lhs, rhs


def batch_matmul(
    a: np.ndarray,
    b: np.ndarray,
    *,
    adj_x: int,
    adj_y: int,
    lhs_offset: int,
    rhs_offset: int,
    output_offset: int,
    output_multiplier: int,
    output_shift: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """``out[..., m, n] = clamp(MBQM(sum_k (A[..., m, k] + lhs_offset) * (B[..., k, n] + rhs_offset),
    output_multiplier, output_shift) + output_offset)`` where ``A`` is ``a`` (its last two
    axes swapped when ``adj_x``) and ``B`` is ``b`` (swapped when ``adj_y``); leading dims
    broadcast as numpy's ``matmul``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise ValueError("batch_matmul operands must be int8")
    _check_common((lhs_offset, rhs_offset, output_offset), act_min, act_max)
    if not -31 <= int(output_shift) <= 31:
        raise ValueError("output_shift must lie in [-31, 31]")
    lhs, rhs = matmul_operands(a, b, adj_x, adj_y)
    acc = np.matmul(lhs.astype(np.int64) + int(lhs_offset), rhs.astype(np.int64) + int(rhs_offset))
    out = multiply_by_quantized_multiplier(acc, int(output_multiplier), int(output_shift)) + int(output_offset)
    return np.clip(out, int(act_min), int(act_max)).astype(np.int8)


def _round_shift(x: np.ndarray, s: int) -> np.ndarray:
    """round(x / 2^s), ties away from zero, on int64 (s >= 1, |x| < 2^62)."""
    mag = (np.abs(x) + (np.int64(1) << (s - 1))) >> s
    return np.where(x < 0, -mag, mag)


def inv_sqrt(w: int) -> tuple[int, int]:
    """(R, m) with 1/sqrt(w) ~= R * 2^m / 2^60 for 0 < w < 2^62: w is scaled by 4^m into
    [2^60, 2^62), r = isqrt of that (in [2^30, 2^31)), R = round(2^60 / r) in [2^29, 2^30]."""
    m = (62 - w.bit_length()) // 2
    r = math.isqrt(w << (2 * m))
    return (2**60 + (r >> 1)) // r, m


def layer_norm(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    *,
    eps: int,
    out_shift: int,
    output_offset: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """Integer LayerNorm over the innermost axis (C values per row); ``gamma``/``beta`` are
    the int32 per-channel multipliers and offsets of :func:`layer_norm_params`::

        S = sum q;  D_j = C q_j - S;  W = sum D_j^2 + eps * C            (exact, int64)
        (R, m) = inv_sqrt(W)        (R = 0 when W = 0)
        t_j = clamp_int16(round(D_j * R / 2^(45 - m)))                    (D_j / sqrt(W) in Q15)
        out_j = clamp(round((t_j * gamma_j + beta_j) / 2^out_shift) + output_offset)

    Rounding is half away from zero. The input zero point cancels (only differences of q
    enter), so the kernel needs no input offset."""
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError("layer_norm input must be int8")
    cols = x.shape[-1]
    if not 1 <= cols <= MAX_COLS:
        raise ValueError(f"layer_norm rows must have 1..{MAX_COLS} elements")
    g = np.asarray(gamma, dtype=np.int64).reshape(-1)
    bt = np.asarray(beta, dtype=np.int64).reshape(-1)
    if g.size != cols or bt.size != cols:
        raise ValueError(f"gamma and beta need {cols} entries")
    if not 0 <= int(eps) <= 2**31 - 1 or not 1 <= int(out_shift) <= 62:
        raise ValueError("eps must lie in [0, 2^31) and out_shift in [1, 62]")
    _check_common((0, 0, output_offset), act_min, act_max)
    rows = x.reshape(-1, cols).astype(np.int64)
    d = cols * rows - rows.sum(axis=1, keepdims=True)
    t = np.zeros_like(d)
    for i in range(rows.shape[0]):
        w = int(np.dot(d[i], d[i])) + int(eps) * cols
        if w > 0:
            r, m = inv_sqrt(w)
            t[i] = _round_shift(d[i] * r, 60 - NORM_BITS - m)
    t = np.clip(t, -(2**15), 2**15 - 1)
    out = _round_shift(t * g + bt, int(out_shift)) + int(output_offset)
    return np.clip(out, int(act_min), int(act_max)).astype(np.int8).reshape(x.shape)
