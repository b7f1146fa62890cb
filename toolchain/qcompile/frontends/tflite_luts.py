"""TFLite Micro's own integer algorithms of the elementwise int8 ops, tabulated.

An int8 elementwise op is a function of 256 possible inputs, so running TFLM's exact
integer algorithm on all of them at compile time and storing the results as the
``lut`` op's table reproduces TFLM bit for bit at the cost of one load per element.
Each function below is the arithmetic of the TFLM reference kernel TFLM dispatches to
for int8 (``Prepare`` parameter derivation included), written with the fixed-point
primitives of :mod:`qcompile.quant.fixedpoint`:

- LOGISTIC (``logistic_common.cc`` + ``reference/integer_ops/logistic.h``): input
  rescaled to Q4.27 by ``MultiplyByQuantizedMultiplier`` with the multiplier from
  ``frexp(s_in * 2^27)``, gemmlowp ``logistic`` (Q0.31), then ``RDBPOT(., 23) - 128``;
  inputs beyond the input radius saturate to -128/127. Output scale is 1/256, zero point -128.
- TANH (``tanh_common.cc`` + ``reference/integer_ops/tanh.h``): same input rescaling,
  gemmlowp ``tanh``, ``RDBPOT(., 24)``; output scale 1/128, zero point 0.
- HARD_SWISH (``hard_swish_common.cc`` + ``reference/hard_swish.h``): int16 fixed point
  with float32-derived multipliers downscaled to int16.
- RELU (``activations_common.cc``): ``MBQM(x - zp_in, QuantizeMultiplier(s_in/s_out)) + zp_out``
  clamped to ``[max(-128, zp_out), 127]``.
- RELU6: TFLM does not rescale: ``clamp(x, zp_in, FloatToQuantizedType(6, s_in, zp_in))``.
- QUANTIZE int8 -> int8 (``quantize_common.cc`` + ``reference/requantize.h``):
  ``MBQM(x - zp_in, QuantizeMultiplier(s_in/s_out)) + zp_out`` saturated.

Scales are the model's float32 values; where TFLM computes in float32 we do too.
"""

from __future__ import annotations

import math

import numpy as np

from qcompile.errors import UnsupportedModelError
from qcompile.quant.fixedpoint import (
    INT32_MAX,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
)
from qcompile.reference.gemmlowp import (
    exp_on_negative_values,
    one_minus_x_over_one_plus_x_for_x_in_0_1,
    one_over_one_plus_x_for_x_in_0_1,
)

_ALL_INT8 = np.arange(-128, 128, dtype=np.int64)


def _table(values: np.ndarray) -> np.ndarray:
    return np.clip(values, -128, 127).astype(np.int8)


def gemmlowp_logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``logistic`` of raw fixed point ``a`` (``integer_bits``); raw Q0.31 result."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    abs_a = np.where(positive, a, -a)
    pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs_a, integer_bits))
    neg = INT32_MAX - pos
    return np.where(a == 0, 1 << 30, np.where(positive, pos, neg))


def gemmlowp_tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``tanh``: ``(1 - e) / (1 + e)`` with ``e = exp(2 * -|a|)`` (the doubling is
    ``ExactMulByPot<1>``: same raw value read with one more integer bit); raw Q0.31 result."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    n = np.where(negative, a, -a)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, -t, t))


def _input_rescaling(input_scale: float, integer_bits: int) -> tuple[int, int, int]:
    """TFLM's LOGISTIC/TANH int8 ``Prepare``: (input_multiplier, input_left_shift, input_range_radius)."""
    real = float(np.float32(input_scale)) * float(1 << (31 - integer_bits))
    q, shift = math.frexp(real)
    multiplier = int(math.copysign(math.floor(abs(q) * 2**31 + 0.5), q))
    if multiplier >= 2**31:
        raise UnsupportedModelError(f"input scale {input_scale} gives a multiplier TFLM cannot represent")
    # CalculateInputRadius(integer_bits, shift, 31) in double.
    max_rescaled = math.ldexp(float(((1 << integer_bits) - 1) * (1 << (31 - integer_bits))), -shift)
    return multiplier, shift, int(math.floor(max_rescaled))


def _sigmoid_like(input_scale: float, input_zero_point: int, kernel, out_shift: int, out_offset: int) -> np.ndarray:
    integer_bits = 4
    multiplier, shift, radius = _input_rescaling(input_scale, integer_bits)
    x = _ALL_INT8 - int(input_zero_point)
    q4 = multiply_by_quantized_multiplier(x, multiplier, shift)
    raw = kernel(q4, integer_bits)
    out = np.clip(rounding_divide_by_pot(raw, out_shift) + out_offset, -128, 127)
    out = np.where(x <= -radius, -128, np.where(x >= radius, 127, out))
    return _table(out)


def logistic_table(input_scale: float, input_zero_point: int) -> np.ndarray:
    """TFLM int8 LOGISTIC on every int8 input (output scale 1/256, zero point -128)."""
    return _sigmoid_like(input_scale, input_zero_point, gemmlowp_logistic, 31 - 8, -128)


def tanh_table(input_scale: float, input_zero_point: int) -> np.ndarray:
    """TFLM int8 TANH on every int8 input (output scale 1/128, zero point 0)."""
    return _sigmoid_like(input_scale, input_zero_point, gemmlowp_tanh, 31 - 7, 0)


def relu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 RELU: rescale then clamp below at the output zero point."""
    m, s = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    out = multiply_by_quantized_multiplier(_ALL_INT8 - int(in_zp), m, s) + int(out_zp)
    return _table(np.clip(out, max(-128, int(out_zp)), 127))


def relu6_table(in_scale: float, in_zp: int) -> np.ndarray:
    """TFLM int8 RELU6: no rescaling; clamp to [zp_in, round(6 / s_in) + zp_in] (float32 division)."""
    ratio = float(np.float32(6.0) / np.float32(in_scale))
    six_q = int(math.copysign(math.floor(abs(ratio) + 0.5), ratio))
    upper = max(-128, min(127, six_q + int(in_zp)))
    lower = int(in_zp)
    x = _ALL_INT8
    return _table(np.where(x > upper, upper, np.where(x < lower, lower, x)))


def requantize_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 -> int8 QUANTIZE: ``MBQM(x - zp_in, QuantizeMultiplier(s_in / s_out)) + zp_out``."""
    m, s = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    return _table(multiply_by_quantized_multiplier(_ALL_INT8 - int(in_zp), m, s) + int(out_zp))


def leaky_relu_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int, alpha: float) -> np.ndarray:
    """TFLM int8 LEAKY_RELU: ``d = x - zp_in``; ``MBQM(d, identity)`` for ``d >= 0``, else
    ``MBQM(d, alpha)``, plus ``zp_out``, clamped. The multipliers are formed in float32 as
    TFLM's ``Prepare`` does (``input->params.scale * params->alpha / output->params.scale``)
    and then widened to double."""
    s_in, s_out, a = np.float32(in_scale), np.float32(out_scale), np.float32(alpha)
    mi, si = quantize_multiplier(float(np.float32(s_in / s_out)))
    ma, sa = quantize_multiplier(float(np.float32(np.float32(s_in * a) / s_out)))
    d = _ALL_INT8 - int(in_zp)
    pos = multiply_by_quantized_multiplier(d, mi, si)
    neg = multiply_by_quantized_multiplier(d, ma, sa)
    return _table(np.where(d >= 0, pos, neg) + int(out_zp))


def requantize_uint8_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 -> uint8 QUANTIZE (``Requantize``): the same arithmetic, saturated to [0, 255].
    The table holds the uint8 results' bytes (as int8), which the ``lut`` kernel copies out."""
    m, s = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    values = np.clip(multiply_by_quantized_multiplier(_ALL_INT8 - int(in_zp), m, s) + int(out_zp), 0, 255)
    return values.astype(np.uint8).view(np.int8)


# ---- HARD_SWISH (int16 fixed point) --------------------------------------------------------


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    overflow = (a == b) & (a == -32768)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    num = ab + nudge
    high = np.where(num >= 0, num // (1 << 15), -((-num) // (1 << 15)))
    return np.where(overflow, 32767, high)


def _sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingDoublingHighMul (no rounding: truncating division by 2^15)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == b) & (a == -32768)
    ab = a * b
    high = np.where(ab >= 0, ab // (1 << 15), -((-ab) // (1 << 15)))
    return np.where(overflow, 32767, high)


def _sat_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64) * (1 << amount), -32768, 32767)


def _downscale_to_int16(m: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier."""
    if m >= INT32_MAX - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


def hard_swish_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM int8 HARD_SWISH on every int8 input (TFLite's reference ``HardSwish<int8_t>``)."""
    f32 = np.float32
    hires_input_scale = f32(1.0 / 128.0) * f32(in_scale)
    reluish_scale = f32(3.0) / f32(32768.0)
    out_mult_m, out_exp = quantize_multiplier(float(hires_input_scale / f32(out_scale)))
    relu_m, relu_exp = quantize_multiplier(float(hires_input_scale / reluish_scale))
    out_m16 = _downscale_to_int16(out_mult_m)
    relu_m16 = _downscale_to_int16(relu_m)
    if out_exp > 0:
        raise UnsupportedModelError("HARD_SWISH output multiplier exponent > 0 (TFLM refuses it too)")
    x = _ALL_INT8 - int(in_zp)
    hires = x * (1 << 7)
    preshift_out = _srdhm16(hires, out_m16)
    reluish = hires
    if relu_exp > 0:
        reluish = _sat_left_shift16(reluish, relu_exp - 1)
    reluish = _srdhm16(reluish, relu_m16)
    if relu_exp > 0:
        reluish = _sat_left_shift16(reluish, 1)
    if relu_exp < 0:
        reluish = rounding_divide_by_pot(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1
    pre = _sdhm16(reluish, preshift_out)
    out = rounding_divide_by_pot(pre, -out_exp) + int(out_zp)
    return _table(out)
