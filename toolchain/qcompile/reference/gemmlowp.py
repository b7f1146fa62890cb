"""gemmlowp's fixed-point transcendental functions on raw int32 values (numpy, vectorised).

TFLM's int8 SOFTMAX, LOGISTIC and TANH all reach for the same few gemmlowp routines
(``fixedpoint.h``): ``exp_on_negative_values`` and the Newton-Raphson divisions behind
``one_over_one_plus_x_for_x_in_0_1`` and ``one_minus_x_over_one_plus_x_for_x_in_0_1``.
They live here once so the softmax reference (:mod:`qcompile.reference.ops`) and the
tabulated TFLite activations (:mod:`qcompile.frontends.tflite_luts`) cannot drift apart.

Values are raw fixed-point numbers held in int64 arrays; every intermediate stays within
int32 exactly as in gemmlowp (``a + b`` never overflows for the inputs these functions
accept, and the saturating steps saturate explicitly). The C twins are in
``runtime_c/src/qc_softmax.c``.
"""

from __future__ import annotations

import numpy as np

from qcompile.quant.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)

# gemmlowp's exp(-2^k) constants in Q0.31 for k = -2 .. 4 (barrel shifter of exp_on_negative_values).
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def srdhm(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul (short name: the formulas below read like gemmlowp's)."""
    return saturating_rounding_doubling_high_mul(a, b)


def sat_shl(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingMultiplyByPOT for a positive exponent (saturating left shift)."""
    x = np.asarray(x, dtype=np.int64)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for Q0.31 ``a`` in [-1/4, 0): Taylor series around -1/8 (raw Q0.31 result).

    The last step is ``c + c * (x + x^2/2 + x^3/6 + x^4/24)`` with ``c = exp(-1/8)`` and
    ``x = a + 1/8``.
    """
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + srdhm(constant_term, x + poly)


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``exp_on_negative_values`` of raw fixed point ``a <= 0`` with ``integer_bits``
    integer bits (at most 5 are used by TFLM); returns raw Q0.31.

    ``a mod 1/4 - 1/4`` goes through the Taylor polynomial; each set bit of the remainder
    above it multiplies by the Q0.31 constant ``exp(-2^k)`` (only the ``k`` representable
    with ``integer_bits``); ``a == 0`` gives Q0.31 one (INT32_MAX).
    """
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    a = np.asarray(a, dtype=np.int64)
    a_mod_q_minus_q = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(sat_shl(a_mod_q_minus_q, integer_bits))
    remainder = a_mod_q_minus_q - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where(remainder & bit, srdhm(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal_q2(a: np.ndarray) -> np.ndarray:
    """Q2.29 approximation of 1 / ((1 + a) / 2) for Q0.31 ``a`` in [0, 1): gemmlowp's
    Newton-Raphson (start 48/17 - 32/17 d, three steps), shared by both divisions below."""
    s = np.asarray(a, dtype=np.int64) + INT32_MAX  # RoundingHalfSum(a, One) with One = INT32_MAX
    half_denominator = np.where(s >= 0, (s + 1) // 2, -((1 - s) // 2))  # C truncating division
    x = 1515870810 + srdhm(half_denominator, -1010580540)
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_denominator, x)
        x = x + sat_shl(srdhm(x, one_minus), 2)
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp ``one_over_one_plus_x_for_x_in_0_1``: Q0.31 in [0, 1), Q0.31 out."""
    return sat_shl(_newton_reciprocal_q2(a), 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp ``one_minus_x_over_one_plus_x_for_x_in_0_1``: Q0.31 in [0, 1), Q0.31 out."""
    return sat_shl(_newton_reciprocal_q2(a) - (1 << 29), 2)
