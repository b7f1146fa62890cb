"""numpy reference of the 16x8 kernels (int16 activations, int8 weights): the spec of the
C ``qc_*_s16`` kernels, TFLite Micro's int16 arithmetic (docs/QUANTIZATION.md, "16x8").

The functions have the int8 kernels' names and keyword arguments (the quantized IR's
attributes are the same); :mod:`qcompile.reference.executor` calls these when a node's
first input is int16. Activations are symmetric: every input offset is 0, and the
convolutions' output offset is 0 too (TFLM requires zero points of 0 for int16).

- conv2d, depthwise_conv2d, fully_connected: ``acc = bias + sum x * w`` in int64 (an int64
  bias or none: TFLM's ``ConvPerChannel<int64_t>``), requantised by the int64
  ``MultiplyByQuantizedMultiplier`` (16-bit multiplier, one rounding,
  :func:`multiply_by_quantized_multiplier_int64`). An int32 bias keeps TFLM's int32
  accumulator and the int32 MBQM (conv2d and fully_connected only, as in TFLM).
- add/sub: the int8 formulas with ``left_shift = 15``; mul: the int8 formula.
- pools: the int8 formulas on int16 values (max starts from -32768).
- mean (H, W) and reduce_sum (SUM, and MEAN over any axes): TFLM's
  ``QuantizedMeanOrSum<int16_t, int32_t>``, the int8 formula on int16 values.
- softmax: TFLM's ``SoftmaxInt16`` (two 513-entry int16 tables with interpolation,
  :func:`softmax_luts`; output scale 1/32768).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np

from qcompile.quant.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    multiply_by_quantized_multiplier_smaller_than_one_exp,
    wrap_int32,
)
from qcompile.reference import conv as _conv
from qcompile.reference import ops as _ops

I16_MIN = -32768
I16_MAX = 32767


def _as_int16(x: np.ndarray, name: str = "input") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.int16:
        raise ValueError(f"{name} must be int16, got {x.dtype}")
    return x


def _check_act(act_min: int, act_max: int) -> None:
    if not I16_MIN <= int(act_min) <= int(act_max) <= I16_MAX:
        raise ValueError(f"activation range [{act_min}, {act_max}] is not an int16 range")


def _check_weighted(x: np.ndarray, w: np.ndarray, input_offset: int, output_offset: int, act_min, act_max) -> None:
    _as_int16(x, "x")
    if np.asarray(w).dtype != np.int8:
        raise ValueError(f"weights must be int8, got {np.asarray(w).dtype}")
    if int(input_offset) != 0 or int(output_offset) != 0:
        raise ValueError("16x8 layers need input and output zero points of 0")
    _check_act(act_min, act_max)


def _requantize_acc(sums, bias, multiplier, shift, act_min: int, act_max: int) -> np.ndarray:
    """Channels last: ``clamp(MBQM(bias + sums))`` as int16, with TFLM's accumulator for the
    bias type (int64 or none: int64 accumulator and int64 MBQM; int32: int32 wrap and MBQM)."""
    n = np.asarray(sums).shape[-1]
    mult = _conv._per_channel(multiplier, n, "multiplier")
    shf = _conv._per_channel(shift, n, "shift")
    if bias is not None and np.asarray(bias).dtype == np.int32:
        acc = wrap_int32(np.asarray(sums, dtype=np.int64) + _conv._bias(bias, n))
        if np.any(shf < -31) or np.any(shf > 31):
            raise ValueError("shift values must lie in [-31, 31]")
        out = multiply_by_quantized_multiplier(acc, mult, shf)
    else:
        if bias is not None and np.asarray(bias).dtype != np.int64:
            raise ValueError(f"a 16x8 bias must be int64 or int32, got {np.asarray(bias).dtype}")
        with np.errstate(over="ignore"):
            acc = np.asarray(sums, dtype=np.int64) + _conv._bias(bias, n)
        out = multiply_by_quantized_multiplier_int64(acc, mult, shf)
    return np.clip(out, int(act_min), int(act_max)).astype(np.int16)


def conv2d(
    x,
    w,
    bias=None,
    *,
    strides,
    dilations,
    pads,
    groups,
    input_offset,
    output_offset,
    multiplier,
    shift,
    act_min,
    act_max,
) -> np.ndarray:
    """16x8 CONV_2D (TFLM ``reference_integer_ops::ConvPerChannel`` for int16 input)."""
    _check_weighted(x, w, input_offset, output_offset, act_min, act_max)
    sums = _conv.conv2d_sums(
        np.asarray(x), np.asarray(w), strides=strides, dilations=dilations, pads=pads, groups=groups, input_offset=0
    )
    return _requantize_acc(sums, bias, multiplier, shift, act_min, act_max)


def depthwise_conv2d(
    x,
    w,
    bias=None,
    *,
    strides,
    dilations,
    pads,
    depth_multiplier,
    input_offset,
    output_offset,
    multiplier,
    shift,
    act_min,
    act_max,
) -> np.ndarray:
    """16x8 DEPTHWISE_CONV_2D: always TFLM's int64 accumulator (the bias must be int64)."""
    _check_weighted(x, w, input_offset, output_offset, act_min, act_max)
    if bias is not None and np.asarray(bias).dtype != np.int64:
        raise ValueError(f"a 16x8 depthwise bias must be int64, got {np.asarray(bias).dtype}")
    sums = _conv.depthwise_sums(
        np.asarray(x),
        np.asarray(w),
        strides=strides,
        dilations=dilations,
        pads=pads,
        depth_multiplier=depth_multiplier,
        input_offset=0,
    )
    return _requantize_acc(sums, bias, multiplier, shift, act_min, act_max)


def fully_connected(x, w, bias=None, *, input_offset, output_offset, multiplier, shift, act_min, act_max) -> np.ndarray:
    """16x8 FULLY_CONNECTED (per tensor or per channel), x [..., K], w [N, K]."""
    _check_weighted(x, w, input_offset, output_offset, act_min, act_max)
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim < 1 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"fully_connected needs x [..., K] and w [N, K], got {x.shape} and {w.shape}")
    out = _requantize_acc(_conv.fc_sums(x, w, 0), bias, multiplier, shift, act_min, act_max)
    return out.reshape(*x.shape[:-1], w.shape[0])


def _binary(x1, x2, offsets: Sequence[int], act_min, act_max) -> tuple[np.ndarray, np.ndarray]:
    x1, x2 = _as_int16(x1, "x1"), _as_int16(x2, "x2")
    if any(int(o) != 0 for o in offsets):
        raise ValueError("16x8 elementwise ops need zero points of 0")
    _check_act(act_min, act_max)
    if len(np.broadcast_shapes(x1.shape, x2.shape)) > 5:
        raise ValueError("broadcasting is limited to rank 5")
    return x1.astype(np.int64), x2.astype(np.int64)


def add(
    x1,
    x2,
    *,
    subtract,
    input1_offset,
    input2_offset,
    output_offset,
    left_shift,
    input1_multiplier,
    input1_shift,
    input2_multiplier,
    input2_shift,
    output_multiplier,
    output_shift,
    act_min,
    act_max,
) -> np.ndarray:
    """TFLM's int16 ADD/SUB (general scales): the int8 arithmetic with ``left_shift = 15``."""
    q1, q2 = _binary(x1, x2, (input1_offset, input2_offset, output_offset), act_min, act_max)
    if int(left_shift) != 15:
        raise ValueError("int16 add needs left_shift 15")
    mbqm = multiply_by_quantized_multiplier_smaller_than_one_exp
    a = mbqm(q1 << 15, int(input1_multiplier), int(input1_shift))
    b = mbqm(q2 << 15, int(input2_multiplier), int(input2_shift))
    raw = wrap_int32(a - b if subtract else a + b)
    out = mbqm(raw, int(output_multiplier), int(output_shift))
    return np.clip(out, int(act_min), int(act_max)).astype(np.int16)


def mul(x1, x2, *, input1_offset, input2_offset, output_offset, output_multiplier, output_shift, act_min, act_max):
    """TFLM's int16 MUL: ``clamp(MBQM(x1 * x2, output_multiplier, output_shift))``."""
    q1, q2 = _binary(x1, x2, (input1_offset, input2_offset, output_offset), act_min, act_max)
    out = multiply_by_quantized_multiplier(q1 * q2, int(output_multiplier), int(output_shift))
    return np.clip(out, int(act_min), int(act_max)).astype(np.int16)


def max_pool2d(x, *, kernel, strides, pads, act_min, act_max) -> np.ndarray:
    """TFLM's int16 MAX_POOL_2D: the running maximum starts at -32768."""
    _check_act(act_min, act_max)
    win, _ = _ops.pool_windows(x, kernel, strides, pads, fill=I16_MIN, dtype=np.int16)
    return np.clip(win.max(axis=(4, 5)).astype(np.int64), int(act_min), int(act_max)).astype(np.int16)


def avg_pool2d(x, *, kernel, strides, pads, act_min, act_max) -> np.ndarray:
    """TFLM's int16 AVERAGE_POOL_2D: the int8 rounded average on int16 values."""
    _check_act(act_min, act_max)
    avg = _ops.window_average(*_ops.pool_windows(x, kernel, strides, pads, fill=0, dtype=np.int16))
    return np.clip(avg, int(act_min), int(act_max)).astype(np.int16)


def concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    if not xs:
        raise ValueError("concat needs at least one input")
    return np.concatenate([_as_int16(x, "concat input") for x in xs], axis=int(axis))


def pad(x, *, pads, pad_value) -> np.ndarray:
    x = _as_int16(x, "x")
    pads = [(int(b), int(a)) for b, a in pads]
    if len(pads) != x.ndim or any(b < 0 or a < 0 for b, a in pads):
        raise ValueError("pad needs one non-negative (before, after) pair per axis")
    if not I16_MIN <= int(pad_value) <= I16_MAX:
        raise ValueError("pad_value must be an int16")
    return np.pad(x, pads, constant_values=np.int16(pad_value))


def transpose(x, *, perm) -> np.ndarray:
    x = _as_int16(x, "x")
    perm = tuple(int(p) for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"perm {perm} is not a permutation of {x.ndim} axes")
    return np.ascontiguousarray(np.transpose(x, perm))


reshape = _ops.reshape
copy = _ops.copy


def requantize(x, *, input_offset, output_offset, multiplier, shift, output_bits) -> np.ndarray:
    """TFLM's QUANTIZE between int8 and int16 (``reference_ops::Requantize``), any direction::

        out = clamp(MBQM(x + input_offset, multiplier, shift) + output_offset)

    in the output type's range (``output_bits`` 8 or 16); ``(multiplier, shift) =
    QuantizeMultiplier(s_in / s_out)``. The int8 -> int8 case stays a ``lut``.
    """
    x = np.asarray(x)
    if x.dtype not in (np.int8, np.int16) or int(output_bits) not in (8, 16):
        raise ValueError(f"requantize converts int8/int16 to int8/int16, got {x.dtype} -> {output_bits} bits")
    if not -32768 <= int(input_offset) <= 32768 or not -32768 <= int(output_offset) <= 32767:
        raise ValueError("requantize offsets must be minus / plus an int16 zero point")
    if not -31 <= int(shift) <= 30:
        raise ValueError("requantize shift must lie in [-31, 30]")
    dtype = np.int8 if int(output_bits) == 8 else np.int16
    info = np.iinfo(dtype)
    v = multiply_by_quantized_multiplier(x.astype(np.int64) + int(input_offset), int(multiplier), int(shift))
    return np.clip(v + int(output_offset), info.min, info.max).astype(dtype)


# ---- softmax (TFLM reference_ops::SoftmaxInt16) ------------------------------------------

#: rows longer than this could overflow the int32 sum of exponentials (each term <= 2^15)
SOFTMAX_S16_MAX_DEPTH = 65535


def _round_half_away32(x: np.ndarray) -> np.ndarray:
    """``std::round`` on float32 values (ties away from zero), exact for every float32."""
    x = np.asarray(x, dtype=np.float32)
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= np.float32(0.5), t + np.sign(x), t).astype(np.float32)


def lut_populate_int16(
    fn: Callable[[np.ndarray], np.ndarray], input_scale: float, input_zp: int, output_scale: float, output_zp: int
) -> np.ndarray:
    """TFLite's ``LUTPopulate<int16_t>`` (``LUTPopulateInt16<float>``): a 513-entry table of
    ``fn`` over the int16 input range, in float32 arithmetic as the C++ computes it; each
    entry is the rounded sample minus half the rounded midpoint interpolation error, so
    that :func:`lut_lookup_int16`'s linear interpolation is centred."""
    f = np.float32
    in_s, out_s = f(input_scale), f(output_scale)
    in_min, in_max = in_s * f(-32768 - int(input_zp)), in_s * f(32767 - int(input_zp))
    out_min, out_max = out_s * f(-32768 - int(output_zp)), out_s * f(32767 - int(output_zp))
    step = (in_max - in_min) / f(512)
    inv = f(65536) / (out_max - out_min)
    i = np.arange(512, dtype=np.float32)
    xs = in_min + i * step
    val = np.asarray(fn(xs), np.float32)
    val_mid = np.asarray(fn(xs + step / f(2)), np.float32)
    val_next = np.asarray(fn(in_min + (i + f(1)) * step), np.float32)
    rnd = _round_half_away32
    interp = rnd((val_next * inv + rnd(val * inv)) / f(2))
    bias = rnd((interp - rnd(val_mid * inv)) / f(2))
    last = rnd(np.asarray(fn(np.array([in_max], np.float32)), np.float32) * inv)
    table = np.concatenate([rnd(val * inv) - bias, last])
    return np.clip(table, -32768, 32767).astype(np.int16)


def lut_lookup_int16(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLite's ``LUTLookup(int16_t, const int16_t *lut)``: entry ``256 + (x >> 7)`` plus the
    slope to the next entry times the low 7 bits, rounded (``(slope * off + 64) >> 7``)."""
    v = np.asarray(x, dtype=np.int64)
    table = np.asarray(lut, dtype=np.int64)
    index = 256 + (v >> 7)
    base = table[index]
    slope = ((table[index + 1] - base + 32768) & 0xFFFF) - 32768  # int16_t slope
    out = base + ((slope * (v & 0x7F) + 64) >> 7)
    return ((out + 32768) & 0xFFFF) - 32768


def _exp_fn(v: np.ndarray) -> np.ndarray:
    # std::exp on float: float64 exp rounded to float32 (the same table as glibc's expf)
    return np.exp(np.asarray(v, np.float64)).astype(np.float32)


def _one_over_one_plus_x(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return np.float32(1) / (np.float32(1) + v)


@functools.cache
def softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    """TFLM's int16 softmax tables (``softmax_common.cc``, fixed for every model): ``exp`` on
    [-10, 0] and ``1 / (1 + x)`` on [0, 1], both Q0.15 outputs, 513 entries each. The C
    kernel (``qc_softmax_s16.c``) holds the same numbers (tests compare them)."""
    span = np.float32(65535)
    exp_lut = lut_populate_int16(_exp_fn, np.float32(10) / span, 32767, np.float32(2) / span, 0)
    recip_lut = lut_populate_int16(_one_over_one_plus_x, np.float32(1) / span, -32768, np.float32(2) / span, 0)
    exp_lut.setflags(write=False)
    recip_lut.setflags(write=False)
    return exp_lut, recip_lut


def _clz32(x: np.ndarray) -> np.ndarray:
    """Leading zeros of non-negative int32 values (exact: frexp's exponent is the bit length)."""
    return 32 - np.frexp(np.asarray(x, dtype=np.float64))[1].astype(np.int64)


def softmax(x, *, input_multiplier, input_left_shift, diff_min) -> np.ndarray:
    """TFLM's int16 SOFTMAX over the last axis (``reference_ops::SoftmaxInt16``; output scale
    1/32768, zero point 0). Per row, with ``d = x - max(row)``:

    - ``e = LUT_exp(clamp(MBQM(d, input_multiplier, input_left_shift) + 32767))`` (Q0.15;
      the multiplier maps [-65535, 0] to [-10, 0]); ``sum`` = int32 sum of ``e``;
    - ``h = clz(sum)``, ``r = LUT_recip(clamp(((sum << (h - 1)) + 2^13) >> 14) - 3 * 2^15))``;
    - ``out = clamp((e * r + 2^(30 - h)) >> (31 - h), 0, 32767)``.

    ``diff_min`` is unused (0): every position contributes.
    """
    x = _as_int16(x, "x")
    if x.ndim == 0 or not 1 <= x.shape[-1] <= SOFTMAX_S16_MAX_DEPTH:
        raise ValueError(f"softmax needs a last axis of 1..{SOFTMAX_S16_MAX_DEPTH} elements")
    if not -31 <= int(input_left_shift) <= 15 or int(input_multiplier) < 0:
        raise ValueError("int16 softmax needs input_left_shift in [-31, 15] and a non-negative multiplier")
    exp_lut, recip_lut = softmax_luts()
    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, int(input_multiplier), int(input_left_shift))
    e = lut_lookup_int16(np.clip(scaled + 32767, I16_MIN, I16_MAX), exp_lut)
    total = e.sum(axis=-1, keepdims=True)
    h = _clz32(total)
    shifted = ((total << (h - 1)) + (1 << 13)) >> 14
    recip = lut_lookup_int16(np.clip(shifted - ((1 << 15) + (1 << 16)), I16_MIN, I16_MAX), recip_lut)
    right = 31 - h
    out = (e * recip + (np.int64(1) << (right - 1))) >> right
    return np.clip(out, 0, I16_MAX).astype(np.int16)


# ---- reductions (TFLM QuantizedMeanOrSum<int16_t, int32_t>) --------------------------------

#: elements per output: the int32 sum of int16 values stays exact (TFLM's would wrap beyond)
REDUCE_S16_MAX_COUNT = 1 << 16


def reduce_sum(x, *, axes, keep_dims, input_offset, output_offset, multiplier, shift) -> np.ndarray:
    """TFLM's int16 SUM, or MEAN with ``1/count`` folded into (multiplier, shift)
    (``reference.reduce.mean_params``): ``clamp(MBQM(sum(x over axes), multiplier, shift))``."""
    from qcompile.reference.kernels.reduce_axes import check_axes, reduced_shape

    x = _as_int16(x, "x")
    ax = check_axes(x.ndim, axes)
    count = math.prod(x.shape[a] for a in ax)
    if not 1 <= count <= REDUCE_S16_MAX_COUNT:
        raise ValueError(f"an int16 reduction sums 1..{REDUCE_S16_MAX_COUNT} elements per output, not {count}")
    if int(input_offset) != 0 or int(output_offset) != 0:
        raise ValueError("16x8 reductions need zero points of 0")
    if not -31 <= int(shift) <= 30:
        raise ValueError(f"shift {shift} outside [-31, 30]")
    total = x.astype(np.int64).sum(axis=ax)
    out = np.clip(multiply_by_quantized_multiplier(total, int(multiplier), int(shift)), I16_MIN, I16_MAX)
    return out.astype(np.int16).reshape(reduced_shape(x.shape, ax, keep_dims))


def mean(x, *, input_offset, output_offset, multiplier, shift, keep_dims) -> np.ndarray:
    """TFLM's int16 MEAN over H and W of an NHWC tensor: :func:`reduce_sum` over axes (1, 2)."""
    x = _as_int16(x, "x")
    if x.ndim != 4:
        raise ValueError(f"mean takes an [N,H,W,C] tensor, got {x.shape}")
    attrs = dict(input_offset=input_offset, output_offset=output_offset, multiplier=multiplier, shift=shift)
    return reduce_sum(x, axes=(1, 2), keep_dims=keep_dims, **attrs)
