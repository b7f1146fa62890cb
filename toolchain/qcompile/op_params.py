"""Integer parameters of the non-convolution int8 ops, derived from real quantization parameters.

The quantizer calls these to turn float scales into the node attributes the reference
kernels (``qcompile.reference.ops``) take; each ``*_params`` function returns exactly
that attribute dict (minus tensors). The derivations are TFLite Micro's ``Prepare``
code (``add.cc``, ``mul_common.cc``, ``softmax_common.cc``, ``CalculateActivationRangeQuantized``)
computed in float64 as TFLM does, so a TFLite model's scales give TFLM's integers.

The ``*_layout`` helpers compute the shape/stride bookkeeping of the C parameter structs
(``runtime_c/include/qc_kernels.h``) that :mod:`qcompile.ops.structs` builds for both the
code generator and the Cython binding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from qcompile.ir import QuantParams, round_half_away
from qcompile.quant.fixedpoint import (
    quantize_multiplier,
    quantize_multiplier_greater_than_one,
    quantize_multiplier_smaller_than_one_exp,
)

MAX_RANK = 5
ADD_LEFT_SHIFT = 20  # TFLM's spare precision bits for int8 ADD/SUB
ADD_LEFT_SHIFT_S16 = 15  # and for int16 (16x8) ADD/SUB
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5  # TFLM's kScaledDiffIntegerBits


def _scale(q: QuantParams) -> float:
    scale = q.scalar_scale()
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale {scale} must be a positive finite number")
    return scale


def activation_bounds(act_range: tuple[float | None, float | None], out_q: QuantParams) -> tuple[int, int]:
    """Fused activation clamp in output quantized units (TFLite's ``CalculateActivationRangeQuantized``).

    ``act_min = max(-128, zp + round(lo / s))`` and ``act_max = min(127, zp + round(hi / s))``
    with round half away from zero; an open side (``None``) is the int8 limit. The division
    is done in float32 (``float32(lo) / float32(s)``) because TFLM's ``Quantize`` lambda does:
    in float64, e.g. ``6 / 2.4`` lands just below 2.5 and rounds the other way.
    """
    lo, hi = act_range
    scale = np.float32(_scale(out_q))
    zp = out_q.scalar_zero_point()
    qmin, qmax = out_q.qmin, out_q.qmax

    def quantize(f: float) -> int:
        with np.errstate(over="ignore"):
            v = float(np.float32(f) / scale)
        v = max(min(v, 1e9), -1e9)  # infinities and huge values saturate below anyway
        return zp + int(round_half_away(v))

    act_min = qmin if lo is None else max(qmin, quantize(lo))
    act_max = qmax if hi is None else min(qmax, quantize(hi))
    if act_min > act_max:
        raise ValueError(f"activation range {act_range} is empty at scale {scale}, zero point {zp}")
    return int(act_min), int(act_max)


def requantize_multiplier(ratio: float) -> tuple[int, int]:
    """``(multiplier, shift)`` of a ``requantize`` (TFLite QUANTIZE): ``QuantizeMultiplier(s_in / s_out)``."""
    return quantize_multiplier(float(ratio))


def add_params(
    in1: QuantParams, in2: QuantParams, out: QuantParams, *, act_min: int, act_max: int, subtract: bool = False
) -> dict:
    """Attributes of a quantized ``add`` (TFLM's int8 ADD/SUB ``Prepare``).

    ``twice_max = 2 * max(s1, s2)``; input multipliers from ``s_i / twice_max`` (<= 0.5)
    and the output one from ``twice_max / (2^20 * s_out)``, each by
    ``QuantizeMultiplierSmallerThanOneExp`` (shift <= 0); ``left_shift = 20`` (15 and
    ``2^15`` for an int16 output: TFLM's 16x8 ADD).
    """
    s1, s2, so = _scale(in1), _scale(in2), _scale(out)
    twice_max = 2.0 * max(s1, s2)
    m1, e1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, e2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    left_shift = ADD_LEFT_SHIFT_S16 if out.dtype == "int16" else ADD_LEFT_SHIFT
    mo, eo = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
    return {
        "subtract": int(bool(subtract)),
        "input1_offset": -in1.scalar_zero_point(),
        "input2_offset": -in2.scalar_zero_point(),
        "output_offset": out.scalar_zero_point(),
        "left_shift": left_shift,
        "input1_multiplier": int(m1),
        "input1_shift": int(e1),
        "input2_multiplier": int(m2),
        "input2_shift": int(e2),
        "output_multiplier": int(mo),
        "output_shift": int(eo),
        "act_min": int(act_min),
        "act_max": int(act_max),
    }


def channel_multipliers(
    input_scale: float, w_scales: np.ndarray, output_scale: float, channels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(multiplier, shift)`` of a conv/depthwise/FC layer, for both importers:
    ``QuantizeMultiplier(double(s_in) * double(s_w[c]) / double(s_out))``, as TFLM's
    ``PopulateConvolutionQuantizationParams`` computes it. Weight scales are float32 (TFLite
    stores them so; the ONNX quantizer rounds them to float32 first). A per-tensor weight
    scale is repeated for ``channels`` channels."""
    ws = np.asarray(w_scales, dtype=np.float32).reshape(-1)
    if ws.size == 1 and channels is not None:
        ws = np.repeat(ws, channels)
    pairs = [quantize_multiplier(float(input_scale) * float(w) / float(output_scale)) for w in ws]
    return np.array([p[0] for p in pairs], dtype=np.int32), np.array([p[1] for p in pairs], dtype=np.int32)


def mul_params(in1: QuantParams, in2: QuantParams, out: QuantParams, *, act_min: int, act_max: int) -> dict:
    """Attributes of a quantized ``mul``: ``QuantizeMultiplier(s1 * s2 / s_out)`` (TFLM's MUL ``Prepare``)."""
    s1, s2, so = _scale(in1), _scale(in2), _scale(out)
    m, e = quantize_multiplier(s1 * s2 / so)
    return {
        "input1_offset": -in1.scalar_zero_point(),
        "input2_offset": -in2.scalar_zero_point(),
        "output_offset": out.scalar_zero_point(),
        "output_multiplier": int(m),
        "output_shift": int(e),
        "act_min": int(act_min),
        "act_max": int(act_max),
    }


def div_params(in1: QuantParams, in2: QuantParams, out: QuantParams, *, act_min: int, act_max: int) -> dict:
    """Attributes of a quantized ``div`` (TFLM's DIV ``Prepare``): ``QuantizeMultiplier(s1 / (s2 *
    s_out))`` in double from the float32 scales (the TFLM interpreter's result on every scale
    tried; a float32 quotient moves exact ties of the rounded quotient)."""
    s1, s2, so = _scale(in1), _scale(in2), _scale(out)
    m, e = quantize_multiplier(s1 / (s2 * so))
    return mul_params(in1, in2, out, act_min=act_min, act_max=act_max) | {
        "output_multiplier": int(m),
        "output_shift": int(e),
    }


def prelu_params(in_q: QuantParams, alpha_q: QuantParams, out_q: QuantParams) -> dict:
    """Attributes of a quantized ``prelu`` (TFLM's PRELU ``Prepare``, for both importers):
    ``m1 = QuantizeMultiplier(s_in / s_out)``, ``m2 = QuantizeMultiplier(s_in * s_alpha / s_out)``
    in double from the float32 scales."""
    s_in, s_a, s_out = (float(q.scalar_scale()) for q in (in_q, alpha_q, out_q))
    m1, e1 = quantize_multiplier(s_in / s_out)
    m2, e2 = quantize_multiplier(s_in * s_a / s_out)
    return {
        "input_offset": -in_q.scalar_zero_point(),
        "alpha_offset": -alpha_q.scalar_zero_point(),
        "output_offset": out_q.scalar_zero_point(),
        "output_multiplier_1": int(m1),
        "output_shift_1": int(e1),
        "output_multiplier_2": int(m2),
        "output_shift_2": int(e2),
    }


def softmax_params(input_scale: float, beta: float = 1.0) -> dict:
    """Attributes of a quantized ``softmax`` (TFLM's ``CalculateSoftmaxParams`` for int8).

    ``PreprocessSoftmaxScaling(beta, s, 5)``: real = ``min(beta * s * 2^26, 2^31 - 1)`` through
    ``QuantizeMultiplierGreaterThanOne`` gives ``input_multiplier``/``input_left_shift``;
    ``diff_min = -floor(31 * 2^26 / 2^input_left_shift)`` (``CalculateInputRadius(5, shift, 31)``).
    The output is fixed at scale 1/256, zero point -128.
    """
    input_scale = float(input_scale)
    if not (math.isfinite(input_scale) and input_scale > 0):
        raise ValueError(f"softmax input scale {input_scale} must be positive")
    ib = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    real = min(float(beta) * input_scale * float(1 << (31 - ib)), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    radius = math.floor(((1 << ib) - 1) * float(1 << (31 - ib)) / float(1 << left_shift))
    return {"input_multiplier": int(multiplier), "input_left_shift": int(left_shift), "diff_min": -int(radius)}


def softmax_s16_params(input_scale: float, beta: float = 1.0) -> dict:
    """Attributes of a 16x8 ``softmax`` (TFLM's ``CalculateSoftmaxParams`` for int16):
    ``QuantizeMultiplier(s_in * beta / (10 / 65535))`` maps an input difference to the exp
    table's [-10, 0] on [-65535, 0]; ``diff_min`` is unused (0). Output scale 1/32768, zero point 0.
    """
    input_scale = float(np.float32(input_scale))
    if not (math.isfinite(input_scale) and input_scale > 0):
        raise ValueError(f"softmax input scale {input_scale} must be positive")
    multiplier, shift = quantize_multiplier(input_scale * float(beta) / (10.0 / 65535.0))
    if not -31 <= shift <= 15:
        raise ValueError(f"int16 softmax input scale {input_scale} (beta {beta}) is out of range (shift {shift})")
    return {"input_multiplier": int(multiplier), "input_left_shift": int(shift), "diff_min": 0}


def lut_table(fn: Callable[[np.ndarray], np.ndarray], in_q: QuantParams, out_q: QuantParams) -> np.ndarray:
    """The int8[256] table of an elementwise op: entry ``q + 128`` is
    ``clamp(round_half_away(fn(s_in * (q - zp_in)) / s_out) + zp_out, -128, 127)``, evaluated in float64."""
    q = np.arange(-128, 128, dtype=np.int64)
    real_in = (q - in_q.scalar_zero_point()).astype(np.float64) * _scale(in_q)
    real_out = np.asarray(fn(real_in), dtype=np.float64)
    if real_out.shape != (256,):
        raise ValueError("lut function must map the 256 inputs elementwise")
    if np.any(np.isnan(real_out)):
        raise ValueError("lut function returned NaN")
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.clip(real_out / _scale(out_q), -1e12, 1e12)
    table = round_half_away(scaled) + out_q.scalar_zero_point()
    return np.clip(table, -128, 127).astype(np.int8)


# ---- C struct layouts ------------------------------------------------------------------


def broadcast_layout(
    shape1: Sequence[int], shape2: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Right-aligned rank-5 output shape and element strides of both inputs (0 on broadcast axes),
    as ``qc_add_params``/``qc_mul_params`` take them. Raises ValueError if the shapes do not broadcast."""
    s1, s2 = tuple(int(d) for d in shape1), tuple(int(d) for d in shape2)
    if max(len(s1), len(s2)) > MAX_RANK:
        raise ValueError(f"broadcasting supports rank <= {MAX_RANK}")
    try:
        out = np.broadcast_shapes(s1, s2)
    except ValueError as exc:
        raise ValueError(f"shapes {s1} and {s2} do not broadcast") from exc
    out5 = (1,) * (MAX_RANK - len(out)) + tuple(int(d) for d in out)

    def strides(shape: tuple[int, ...]) -> tuple[int, ...]:
        padded = (1,) * (MAX_RANK - len(shape)) + shape
        result = [0] * MAX_RANK
        step = 1
        for axis in range(MAX_RANK - 1, -1, -1):
            result[axis] = 0 if padded[axis] == 1 else step
            step *= padded[axis]
        return tuple(result)

    return out5, strides(s1), strides(s2)


def pool_layout(x_shape: Sequence[int], kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int]) -> dict:
    """Fields of ``qc_pool_params`` (minus act_min/act_max) for an NHWC input; pads = (top, left, bottom, right)."""
    if len(x_shape) != 4:
        raise ValueError(f"pooling takes [N,H,W,C] input, got shape {tuple(x_shape)}")
    n, h, w, c = (int(d) for d in x_shape)
    kh, kw = (int(k) for k in kernel)
    sh, sw = (int(s) for s in strides)
    top, left, bottom, right = (int(p) for p in pads)
    if min(kh, kw, sh, sw) < 1 or min(top, left, bottom, right) < 0:
        raise ValueError("pool kernel and strides must be >= 1 and pads >= 0")
    out_h = (h + top + bottom - kh) // sh + 1
    out_w = (w + left + right - kw) // sw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError("pooling window larger than the padded input")
    return {
        "batches": n,
        "in_h": h,
        "in_w": w,
        "channels": c,
        "out_h": out_h,
        "out_w": out_w,
        "kernel_h": kh,
        "kernel_w": kw,
        "stride_h": sh,
        "stride_w": sw,
        "pad_top": top,
        "pad_left": left,
    }


def concat_layout(shapes: Sequence[Sequence[int]], axis: int) -> tuple[int, list[int]]:
    """``(outer, inner_sizes)`` of ``qc_concat_s8``: outer = product of dims before ``axis``,
    inner_sizes[i] = product of input i's dims from ``axis`` on."""
    if not shapes:
        raise ValueError("concat needs at least one input")
    shapes = [tuple(int(d) for d in s) for s in shapes]
    rank = len(shapes[0])
    axis = int(axis)
    if not 0 <= axis < rank:
        raise ValueError(f"concat axis {axis} out of range for rank {rank}")
    for s in shapes:
        if len(s) != rank or s[:axis] != shapes[0][:axis] or s[axis + 1 :] != shapes[0][axis + 1 :]:
            raise ValueError(f"concat shapes {shapes} differ off axis {axis}")
    outer = math.prod(shapes[0][:axis])
    return outer, [math.prod(s[axis:]) for s in shapes]


def pad_layout(
    shape: Sequence[int], pads: Sequence[Sequence[int]]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Right-aligned rank-5 ``(in_shape, pad_before, pad_after)`` of ``qc_pad_params``."""
    shape = tuple(int(d) for d in shape)
    pads = [(int(b), int(a)) for b, a in pads]
    if len(shape) > MAX_RANK or len(pads) != len(shape) or any(b < 0 or a < 0 for b, a in pads):
        raise ValueError(f"pad needs rank <= {MAX_RANK} and one non-negative (before, after) pair per axis")
    k = MAX_RANK - len(shape)
    return (1,) * k + shape, (0,) * k + tuple(b for b, _ in pads), (0,) * k + tuple(a for _, a in pads)


def transpose_layout(shape: Sequence[int], perm: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Right-aligned rank-5 ``(in_shape, perm)`` of ``qc_transpose_params``."""
    shape = tuple(int(d) for d in shape)
    perm = tuple(int(p) for p in perm)
    if len(shape) > MAX_RANK or sorted(perm) != list(range(len(shape))):
        raise ValueError(f"perm {perm} is not a permutation of the {len(shape)} axes (rank <= {MAX_RANK})")
    k = MAX_RANK - len(shape)
    return (1,) * k + shape, tuple(range(k)) + tuple(p + k for p in perm)


def strided_slice_layout(
    shape: Sequence[int], begin: Sequence[int], size: Sequence[int], strides: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Right-aligned rank-5 ``(in_shape, begin, out_shape, strides)`` of ``qc_strided_slice_params``.

    Output element ``i`` of an axis is input element ``begin + i * stride`` (a negative stride
    walks backwards); every index it reads must lie inside the input."""
    shape, begin = tuple(int(d) for d in shape), tuple(int(b) for b in begin)
    size, strides = tuple(int(n) for n in size), tuple(int(s) for s in strides)
    if len(shape) > MAX_RANK or not len(shape) == len(begin) == len(size) == len(strides):
        raise ValueError(f"strided_slice needs rank <= {MAX_RANK} and one begin, size and stride per axis")
    for d, b, n, st in zip(shape, begin, size, strides, strict=True):
        if st == 0 or n < 0 or (n > 0 and not (0 <= b < d and 0 <= b + (n - 1) * st < d)):
            raise ValueError(f"slice begin {b}, size {n}, stride {st} reads outside an axis of {d}")
    shape, begin, size, strides = _merge_whole_axes(shape, begin, size, strides)
    k = MAX_RANK - len(shape)
    return (1,) * k + shape, (0,) * k + begin, (1,) * k + size, (1,) * k + strides


def _merge_whole_axes(shape, begin, size, strides):
    """Fold a whole, unit-stride last axis into the axis before it when that one has unit
    stride too: the same elements, in longer contiguous runs (``[1, 3, 64]`` rows 1..2 is
    one 128-byte run of ``[1, 192]``)."""
    shape, begin, size, strides = list(shape), list(begin), list(size), list(strides)
    while len(shape) > 1 and strides[-1] == 1 == strides[-2] and begin[-1] == 0 and size[-1] == shape[-1]:
        d = shape.pop()
        begin.pop(), size.pop(), strides.pop()
        shape[-1], begin[-1], size[-1] = shape[-1] * d, begin[-1] * d, size[-1] * d
    return tuple(shape), tuple(begin), tuple(size), tuple(strides)


def slice_axis(begin: int, end: int, dim: int, stride: int, *, whole_begin: bool = False, whole_end: bool = False):
    """``(start, size)`` of one axis of a slice from ``begin`` to ``end`` (exclusive) by ``stride``,
    as TFLite STRIDED_SLICE and ONNX Slice define it: negative indices count from the end, then
    bounds are clamped to the axis (``[0, dim]`` going forward, ``[-1, dim - 1]`` backward);
    ``whole_begin``/``whole_end`` (TFLite's masks) take the axis from/to its end in the
    stride's direction."""
    if stride == 0:
        raise ValueError("a slice step of 0 is not allowed")
    lo, hi = (0, dim) if stride > 0 else (-1, dim - 1)

    def bound(value: int, whole: bool, edge: int) -> int:
        if whole:
            return edge
        value = value + dim if value < 0 else value
        return min(max(value, lo), hi)

    start = bound(begin, whole_begin, 0 if stride > 0 else dim - 1)
    stop = bound(end, whole_end, dim if stride > 0 else -1)
    size = max(0, -(-(stop - start) // stride))
    return (start if size else 0), size
