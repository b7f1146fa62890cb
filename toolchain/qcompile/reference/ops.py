"""numpy reference of every int8 kernel other than the convolution family (the spec).

Each function takes int8 arrays plus keyword arguments named exactly as the quantized
IR node attributes (``docs/QUANTIZATION.md``), so the graph executor calls
``fn(*inputs, **node.attrs)``. The arithmetic is TensorFlow Lite Micro's int8 reference
kernels (``add.h``, ``mul.h``, ``pooling.h``, ``softmax.h`` with gemmlowp's fixed-point
``exp``), reproduced bit for bit; the C runtime (``runtime_c/src/qc_*.c``) must agree with
these functions on every input, and ``tests/reference/test_ops.py`` proves both that and
agreement with TFLM on real models.

Everything is vectorised (int64 numpy arithmetic that models TFLM's int32 arithmetic,
wrapping explicitly where TFLM's int32 can wrap), so whole models run on hundreds of
inputs in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.quant.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_greater_than_one,
    multiply_by_quantized_multiplier_smaller_than_one_exp,
    rounding_divide_by_pot,
    wrap_int32,
)
from qcompile.reference import gemmlowp

MAX_RANK = 5


def _as_int8(x: np.ndarray, name: str = "input") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"{name} must be int8, got {x.dtype}")
    return x


def _check_binary(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x1 = _as_int8(x1, "x1")
    x2 = _as_int8(x2, "x2")
    if max(x1.ndim, x2.ndim) > MAX_RANK:
        raise ValueError(f"broadcasting ops support rank <= {MAX_RANK}")
    try:
        np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError as exc:
        raise ValueError(f"shapes {x1.shape} and {x2.shape} do not broadcast") from exc
    return x1, x2


def _check_common(offsets: Sequence[int], act_min: int, act_max: int) -> None:
    """Parameter ranges every int8 elementwise kernel (and its C twin) accepts."""
    if any(not -255 <= int(o) <= 255 for o in offsets):
        raise ValueError("input offsets must lie in [-255, 255]")
    if not -128 <= int(act_min) <= int(act_max) <= 127:
        raise ValueError("need -128 <= act_min <= act_max <= 127")


# Every (x1, x2) int8 pair as int64 [256, 256] grids: binary ops are computed on these once.
_ALL_PAIRS = tuple(g.astype(np.int64) for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij"))


def _pair_lookup(table: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """table[x1 + 128, x2 + 128] with numpy broadcasting of x1 and x2."""
    return np.asarray(table[x1.astype(np.intp) + 128, x2.astype(np.intp) + 128], dtype=np.int8)


def _clamp_s8(x: np.ndarray, act_min: int, act_max: int) -> np.ndarray:
    return np.asarray(np.clip(x, int(act_min), int(act_max)), dtype=np.int8)


# ---- elementwise binary ----------------------------------------------------------------


def add(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    subtract: int,
    input1_offset: int,
    input2_offset: int,
    output_offset: int,
    left_shift: int,
    input1_multiplier: int,
    input1_shift: int,
    input2_multiplier: int,
    input2_shift: int,
    output_multiplier: int,
    output_shift: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """TFLM's int8 ADD (``subtract=0``) and SUB (``subtract=1``) with numpy broadcasting.

    Each input is rescaled to a common scale with 20 spare bits of precision, summed,
    then rescaled to the output::

        a = RDBPOT(SRDHM((x1 + input1_offset) * 2^left_shift, input1_multiplier), -input1_shift)
        b = RDBPOT(SRDHM((x2 + input2_offset) * 2^left_shift, input2_multiplier), -input2_shift)
        r = a + b            (a - b when subtract)
        out = clamp(RDBPOT(SRDHM(r, output_multiplier), -output_shift) + output_offset, act_min, act_max)

    All shifts are <= 0 (``MultiplyByQuantizedMultiplierSmallerThanOneExp``). TFLM's SUB
    negates nothing: it subtracts the two rescaled values, which is what we do (both
    roundings are symmetric, so this equals adding with a negated multiplier).
    """
    x1, x2 = _check_binary(x1, x2)
    _check_common((input1_offset, input2_offset), act_min, act_max)
    ls = int(left_shift)
    if not 0 <= ls <= 23:
        raise ValueError("left_shift must be in [0, 23]")
    # The output is a function of the two int8 values only: evaluate it on all 256 x 256
    # pairs (exactly the arithmetic above), then index.
    q1, q2 = _ALL_PAIRS
    a = multiply_by_quantized_multiplier_smaller_than_one_exp(
        wrap_int32((q1 + int(input1_offset)) << ls), int(input1_multiplier), int(input1_shift)
    )
    b = multiply_by_quantized_multiplier_smaller_than_one_exp(
        wrap_int32((q2 + int(input2_offset)) << ls), int(input2_multiplier), int(input2_shift)
    )
    raw = wrap_int32(a - b if subtract else a + b)
    out = multiply_by_quantized_multiplier_smaller_than_one_exp(raw, int(output_multiplier), int(output_shift))
    return _pair_lookup(_clamp_s8(out + int(output_offset), act_min, act_max), x1, x2)


def mul(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    input1_offset: int,
    input2_offset: int,
    output_offset: int,
    output_multiplier: int,
    output_shift: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """TFLM's int8 MUL with numpy broadcasting::

        out = clamp(MBQM((x1 + input1_offset) * (x2 + input2_offset), output_multiplier, output_shift)
                    + output_offset, act_min, act_max)

    MBQM is ``MultiplyByQuantizedMultiplier`` (two roundings, left shift in int32 wrapping).
    """
    x1, x2 = _check_binary(x1, x2)
    _check_common((input1_offset, input2_offset), act_min, act_max)
    q1, q2 = _ALL_PAIRS  # evaluated on every int8 pair, then indexed (see add)
    prod = (q1 + int(input1_offset)) * (q2 + int(input2_offset))
    out = multiply_by_quantized_multiplier(prod, int(output_multiplier), int(output_shift))
    return _pair_lookup(_clamp_s8(out + int(output_offset), act_min, act_max), x1, x2)


# ---- pooling ---------------------------------------------------------------------------


def pool_output_size(in_size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Output length of a pooling window sliding over ``pad_before + in_size + pad_after``."""
    return (in_size + pad_before + pad_after - kernel) // stride + 1


def pool_windows(x: np.ndarray, kernel, strides, pads, fill: int, dtype=np.int8) -> tuple[np.ndarray, np.ndarray]:
    """Window views of x padded with ``fill``: values [N,OH,OW,KH,KW,C] and a validity mask [OH,OW,KH,KW]."""
    x = np.asarray(x)
    if x.dtype != dtype:
        raise ValueError(f"x must be {np.dtype(dtype).name}, got {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"pooling takes [N,H,W,C] input, got shape {x.shape}")
    kh, kw = (int(k) for k in kernel)
    sh, sw = (int(s) for s in strides)
    top, left, bottom, right = (int(p) for p in pads)
    if min(kh, kw, sh, sw) < 1 or min(top, left, bottom, right) < 0:
        raise ValueError("pool kernel and strides must be >= 1 and pads >= 0")
    n, h, w, c = x.shape
    oh = pool_output_size(h, kh, sh, top, bottom)
    ow = pool_output_size(w, kw, sw, left, right)
    if oh < 1 or ow < 1:
        raise ValueError("pooling window larger than the padded input")
    # Bottom/right padding may exceed what the windows reach, or windows may stop short:
    # pad generously then slice so every window position exists.
    ph = max((oh - 1) * sh + kh - h - top, 0)
    pw = max((ow - 1) * sw + kw - w - left, 0)
    xp = np.pad(x, ((0, 0), (top, ph), (left, pw), (0, 0)), constant_values=fill)
    valid = np.zeros(xp.shape[1:3], dtype=bool)
    valid[top : top + h, left : left + w] = True
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw][:, :oh, :ow]
    vmask = np.lib.stride_tricks.sliding_window_view(valid, (kh, kw))[::sh, ::sw][:oh, :ow]
    # win is [N,OH,OW,C,KH,KW]
    return win, vmask


def max_pool2d(x: np.ndarray, *, kernel, strides, pads, act_min: int, act_max: int) -> np.ndarray:
    """TFLM's int8 MAX_POOL_2D on NHWC; ``pads = (top, left, bottom, right)``.

    ``out = clamp(max over the window's in-bounds positions, act_min, act_max)``; padded
    positions are excluded (a window with no valid position yields ``clamp(-128)``, as
    TFLM's running maximum starts at -128).
    """
    win, _ = pool_windows(x, kernel, strides, pads, fill=-128)
    return _clamp_s8(win.max(axis=(4, 5)).astype(np.int64), act_min, act_max)


def avg_pool2d(x: np.ndarray, *, kernel, strides, pads, act_min: int, act_max: int) -> np.ndarray:
    """TFLM's int8 AVERAGE_POOL_2D on NHWC; ``pads = (top, left, bottom, right)``.

    ``sum`` = sum of the window's in-bounds int8 values (no offset), ``count`` = number of
    in-bounds positions; ``avg = sum > 0 ? (sum + count/2) / count : (sum - count/2) / count``
    with C's truncating division (round half away from zero), then ``clamp(avg, act_min, act_max)``.
    A window with no in-bounds position is an error (TFLM fails the op).
    """
    return _clamp_s8(window_average(*pool_windows(x, kernel, strides, pads, fill=0)), act_min, act_max)


def window_average(win: np.ndarray, vmask: np.ndarray) -> np.ndarray:
    """TFLM's rounded window average (int64, before the clamp) of :func:`_pool_windows`' views:
    ``sum > 0 ? (sum + count/2) / count : (sum - count/2) / count``, truncating division."""
    total = win.astype(np.int64).sum(axis=(4, 5))  # [N,OH,OW,C]
    count = vmask.sum(axis=(2, 3)).astype(np.int64)[None, :, :, None]
    if np.any(count == 0):
        raise ValueError("average pool window covers only padding")
    half = count // 2
    num = np.where(total > 0, total + half, total - half)
    return np.sign(num) * (np.abs(num) // count)  # truncating division


# ---- softmax (gemmlowp fixed point) ----------------------------------------------------

_SCALED_DIFF_INTEGER_BITS = 5
_ACCUM_INTEGER_BITS = 12
# Rows longer than this could wrap TFLM's int32 Q12.19 sum of exps (undefined in C++): rejected.
SOFTMAX_MAX_DEPTH = 4095


def exp_on_negative_values(a: np.ndarray) -> np.ndarray:
    """gemmlowp's ``exp_on_negative_values`` for softmax's Q5.26 input ``a <= 0``; returns raw Q0.31.

    See :func:`qcompile.reference.gemmlowp.exp_on_negative_values` (shared with the
    tabulated TFLite LOGISTIC/TANH).
    """
    return gemmlowp.exp_on_negative_values(a, _SCALED_DIFF_INTEGER_BITS)


def _count_leading_zeros32(x: np.ndarray) -> np.ndarray:
    """Leading zeros of x as uint32 (x > 0 here)."""
    x = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    clz = np.full(x.shape, 32, dtype=np.int64)
    nz = x > 0
    # floor(log2) via frexp is exact for integers below 2^53.
    _, e = np.frexp(x[nz].astype(np.float64))
    clz[nz] = 32 - e
    return clz


def softmax(x: np.ndarray, *, input_multiplier: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """TFLM's int8 SOFTMAX over the last axis (output scale 1/256, zero point -128).

    Per row, with ``d = x - max(row)`` (int32):

    - positions with ``d < diff_min`` output -128 and add nothing to the sum;
    - ``s = SRDHM(d * 2^input_left_shift, input_multiplier)`` is a Q5.26 scaled difference,
      ``e = exp_on_negative_values(s)`` (gemmlowp, Q0.31);
    - ``sum`` = int32 sum of ``RDBPOT(e, 12)`` (Q12.19, gemmlowp ``Rescale<12>``);
    - ``GetReciprocal``: ``h = clz(sum)``, ``num_bits_over_unit = 12 - h``,
      ``r = one_over_one_plus_x_for_x_in_0_1((sum << h) - 2^31)`` (Q0.31);
    - ``out = clamp(RDBPOT(SRDHM(r, e), num_bits_over_unit + 23) - 128, -128, 127)``
      (an exponent above 31, reachable only for rows of 512+ elements, gives 0 since
      the product is below 2^31).
    """
    x = _as_int8(x, "x")
    if x.ndim == 0 or not 1 <= x.shape[-1] <= SOFTMAX_MAX_DEPTH:
        raise ValueError(f"softmax needs a last axis of 1..{SOFTMAX_MAX_DEPTH} elements")
    left = int(input_left_shift)
    if not 0 <= left <= 31:
        raise ValueError("input_left_shift must be in [0, 31]")
    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    active = diff >= int(diff_min)
    scaled = multiply_by_quantized_multiplier_greater_than_one(diff, int(input_multiplier), left)
    e = exp_on_negative_values(np.where(active, scaled, 0))
    contrib = np.where(active, rounding_divide_by_pot(e, _ACCUM_INTEGER_BITS), 0)
    total = wrap_int32(contrib.sum(axis=-1, keepdims=True))
    headroom = _count_leading_zeros32(total)
    num_bits_over_unit = _ACCUM_INTEGER_BITS - headroom
    shifted_minus_one = wrap_int32(((total & 0xFFFFFFFF) << headroom) - (1 << 31))
    recip = gemmlowp.one_over_one_plus_x_for_x_in_0_1(shifted_minus_one)
    prod = gemmlowp.srdhm(recip, e)
    exponent = num_bits_over_unit + 31 - 8
    big = exponent > 31
    unsat = np.where(big, 0, rounding_divide_by_pot(prod, np.clip(exponent, 0, 31)))
    out = np.where(active, np.clip(unsat - 128, -128, 127), -128)
    return np.asarray(out, dtype=np.int8)


# ---- table lookup ----------------------------------------------------------------------


def lut(x: np.ndarray, *, table: np.ndarray) -> np.ndarray:
    """Any elementwise unary int8 op as a 256-entry table: ``out = table[x + 128]``."""
    x = _as_int8(x, "x")
    table = np.asarray(table)
    if table.shape != (256,) or table.dtype != np.int8:
        raise ValueError("lut table must be int8[256]")
    return table[x.astype(np.int64) + 128]


# ---- data movement ---------------------------------------------------------------------


def concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    """Concatenation along ``axis`` (physical, non-negative); inputs share quantization."""
    if not xs:
        raise ValueError("concat needs at least one input")
    arrays = [_as_int8(x, "concat input") for x in xs]
    return np.concatenate(arrays, axis=int(axis))


def pad(x: np.ndarray, *, pads: Sequence[Sequence[int]], pad_value: int) -> np.ndarray:
    """Constant padding: ``pads`` holds (before, after) per axis, ``pad_value`` is the input zero point."""
    x = _as_int8(x, "x")
    pads = [(int(b), int(a)) for b, a in pads]
    if len(pads) != x.ndim or any(b < 0 or a < 0 for b, a in pads):
        raise ValueError("pad needs one non-negative (before, after) pair per axis")
    if not -128 <= int(pad_value) <= 127:
        raise ValueError("pad_value must be an int8")
    return np.pad(x, pads, constant_values=np.int8(pad_value))


def transpose(x: np.ndarray, *, perm: Sequence[int]) -> np.ndarray:
    """Output axis i is input axis ``perm[i]``."""
    x = _as_int8(x, "x")
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"perm {perm} is not a permutation of {x.ndim} axes")
    return np.ascontiguousarray(np.transpose(x, perm))


def reshape(x: np.ndarray, *, shape: Sequence[int]) -> np.ndarray:
    """Same bytes, new shape (an alias in generated code)."""
    x = np.asarray(x)
    return x.reshape(tuple(int(s) for s in shape))


def copy(x: np.ndarray) -> np.ndarray:
    """A fresh copy (memcpy in generated code)."""
    return np.array(x, copy=True)
