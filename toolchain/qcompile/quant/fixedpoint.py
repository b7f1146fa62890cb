"""Fixed-point primitives of the TFLite int8 spec, exactly as TFLite Micro computes them.

These functions are the arithmetic contract: the numpy reference kernels call them and
the C header ``runtime_c/include/qc_fixedpoint.h`` implements the same operations
bit for bit. All functions are vectorised over numpy arrays and compute in int64 so
that int32 overflow behaves as TFLM's int32 code does (wrap-around is modelled
explicitly where TFLM can wrap).

Conventions (TFLite's): a ``shift`` > 0 is a left shift, < 0 a right shift.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (C's int32 overflow on gcc)."""
    out = np.asarray(np.add(np.asarray(x, dtype=np.int64), 2**31))  # one temporary, then in place
    out &= 0xFFFFFFFF
    out -= 2**31
    return out if out.ndim else out[()]


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31).

    Rounding of the mantissa is half away from zero (``TfLiteRound``). A mantissa that
    rounds up to 2^31 is halved and the shift incremented; shifts below -31 give zero.
    A left shift above 31 (real >= 2^31) has no defined int32 kernel, so it is a
    ``ValueError`` (only corrupt scales produce one).
    """
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise ValueError(f"multiplier {real} is not finite")
    mantissa, shift = math.frexp(real)
    q_fixed = int(_round_away(mantissa * (1 << 31)))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    if shift > 31:
        raise ValueError(f"multiplier {real:g} needs a left shift of {shift}; int32 kernels take at most 31")
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplierSmallerThanOneExp``: as above, requires 0 < real < 1 (shift <= 0)."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real} must lie in (0, 1)")
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real} gives a left shift")
    return mult, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplierGreaterThanOne``: requires real > 1, returns a left shift >= 0."""
    if not real > 1.0:
        raise ValueError(f"multiplier {real} must be > 1")
    mult, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real} gives a right shift")
    return mult, shift


def _round_away(x: float) -> float:
    return math.copysign(math.floor(abs(x) + 0.5), x)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul: round((a*b*2) / 2^32), ties away from zero,
    computed as (a*b + nudge) / 2^31 with C's truncating division; the single overflow case
    (INT32_MIN * INT32_MIN) saturates to INT32_MAX.

    For int32 ``a``, ``b`` that equals ``floor((a*b + 2^30) / 2^31)`` capped at INT32_MAX: with
    ``ab >= 0`` the numerator ``ab + 2^30`` is not negative, so truncation is the floor; with
    ``ab < 0`` it is ``ab + 1 - 2^30 < 0``, truncated is ``floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31)``,
    the same expression. Only ``INT32_MIN * INT32_MIN`` reaches 2^31 (the next largest product
    is 2^62 - 2^31), so the cap is the saturation. Four array passes instead of a dozen: the
    reference kernels spend most of their time here (mixed precision search)."""
    ab = np.asarray(np.multiply(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)))
    ab += 1 << 30
    ab >>= 31
    return np.minimum(ab, INT32_MAX, out=ab)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero.
    ``exponent`` must be in [0, 31].

    gemmlowp adds one when the remainder exceeds ``2^(e-1) - 1`` (``2^(e-1)`` for negative x);
    that is ``floor((x + 2^(e-1) - [x < 0]) / 2^e)`` for ``e >= 1`` and ``x`` itself for ``e = 0``."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    if np.any(exponent < 0) or np.any(exponent > 31):
        raise ValueError("rounding_divide_by_pot exponent must be in [0, 31]")
    out = x + (np.left_shift(np.int64(1), exponent) >> 1)  # + 2^(e-1), + 0 for e = 0
    out -= (x < 0) & (exponent > 0)
    out >>= exponent
    return out


def multiply_by_quantized_multiplier(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """TFLM's ``MultiplyByQuantizedMultiplier`` for int32 x (two roundings).

    result = RoundingDivideByPOT(SRDHM(x * 2^max(shift,0), multiplier), max(-shift,0)).
    The left shift is done in int32 and wraps as TFLM's does.
    """
    x = np.asarray(x, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(x << left) if np.any(left) else wrap_int32(x)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def multiply_by_quantized_multiplier_int64(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """TFLM's ``MultiplyByQuantizedMultiplier(int64_t x, int32_t m, int shift)`` (the 16x8
    conv/depthwise/FC requantisation, one rounding with a 16-bit multiplier)::

        rm     = m < 0x7FFF0000 ? (m + 2^15) >> 16 : 0x7FFF
        total  = 15 - shift                       (shift in [-31, 7])
        result = int32((x * rm + 2^(total - 1)) >> total)

    The product and the sum wrap modulo 2^64 and the result is truncated to int32, as a
    gcc build of TFLM computes them (TFLM assumes |x| < 2^47, where nothing wraps).
    """
    x = np.asarray(x, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if np.any(shift < -31) or np.any(shift > 7):
        raise ValueError("16x8 shift values must lie in [-31, 7]")
    if np.any(m < 0):
        raise ValueError("16x8 multipliers must be non-negative")
    rm = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - shift
    with np.errstate(over="ignore"):
        acc = x * rm + (np.int64(1) << (total - 1))
    return wrap_int32(acc >> total)


def multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: np.ndarray, multiplier: np.ndarray | int, left_shift: np.ndarray | int
) -> np.ndarray:
    """TFLite's ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` (left_shift <= 0):
    RoundingDivideByPOT(SRDHM(x, multiplier), -left_shift)."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -np.asarray(left_shift))


def multiply_by_quantized_multiplier_greater_than_one(
    x: np.ndarray, multiplier: np.ndarray | int, left_shift: np.ndarray | int
) -> np.ndarray:
    """TFLite's ``MultiplyByQuantizedMultiplierGreaterThanOne`` (left_shift >= 0):
    SRDHM(x * 2^left_shift, multiplier), the left shift done in int32."""
    x = np.asarray(x, dtype=np.int64)
    return saturating_rounding_doubling_high_mul(wrap_int32(x << np.asarray(left_shift, dtype=np.int64)), multiplier)


def saturate(x: np.ndarray, lo: int, hi: int, dtype: str = "int8") -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi).astype(dtype)
