"""TFLite Micro's int16 sigmoid and tanh (``reference_integer_ops::Logistic`` / ``Tanh`` for
int16): the one definition used by the 16x8 LOGISTIC and TANH ops and by the LSTM gates.
The C twins are ``qc_logistic_s16`` / ``qc_tanh_s16`` (``runtime_c/src/qc_sigmoid_s16.c``).

Both read one 256-entry table of ``sigmoid(i / 24)`` in unsigned 0.16 format
(:data:`SIGMOID_TABLE_U16`) and interpolate linearly between neighbours, using
``tanh(x) = 2 sigmoid(2x) - 1`` for tanh. The input is first rescaled to units of
``1 / (3 * 4096)`` (so +-2^17 spans +-10.7):

    if input_multiplier == 0:  input_multiplier, input_left_shift = 3 << input_left_shift, 0
    v = (x * input_multiplier + round) >> input_left_shift      (round = 2^(shift-1), or 0)

then sigmoid interpolates with 9 fraction bits, tanh with 8 (docs/QUANTIZATION.md, "int16
sigmoid and tanh"). :func:`sigmoid_tanh_params` is TFLM's ``Prepare`` for the two ops.
"""

from __future__ import annotations

import math

import numpy as np

#: TFLM's ``sigmoid_table_uint16``: sigmoid(i / 24) in unsigned 0.16 format, i = 0..255
SIGMOID_TABLE_U16 = np.array(
    [
        32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432,
        42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475,
        49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485,
        55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519,
        59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036,
        62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
        63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405,
        64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
        64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179,
        65194, 65208, 65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337,
        65345, 65352, 65360, 65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
        65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
        65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
        65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517,
        65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525, 65525,
        65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
        65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533,
        65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
        65534, 65534, 65534, 65535,
    ],
    dtype=np.int64,
)  # fmt: skip

#: the output scale both ops require (TFLM checks log2(scale) == -15)
OUTPUT_SCALE = 2.0**-15


def _rescale(x: np.ndarray, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.int16:
        raise ValueError(f"input must be int16, got {x.dtype}")
    mult, shift = int(input_multiplier), int(input_left_shift)
    if not 0 <= shift <= 31 or not 0 <= mult <= 32767 or (mult == 0 and shift > 12):
        raise ValueError(f"input_multiplier {mult} / input_left_shift {shift} outside TFLM's int16 range")
    if mult == 0:  # the power-of-two input scale
        mult, shift = 3 << shift, 0
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    return (x.astype(np.int64) * mult + rounding) >> shift


def _interpolate(a: np.ndarray, frac_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(table index saturated, interpolated value with ``frac_bits`` extra bits) of ``|v|``."""
    uh = a >> frac_bits
    inside = uh < 255
    i = np.where(inside, uh, 0)
    ua, ub = SIGMOID_TABLE_U16[i], SIGMOID_TABLE_U16[i + 1]
    return inside, (ua << frac_bits) + (a & ((1 << frac_bits) - 1)) * (ub - ua)


def logistic_values(x: np.ndarray, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """int16 sigmoid of int16 ``x`` (output scale 2^-15): TFLM's int16 ``Logistic``."""
    v = _rescale(x, input_multiplier, input_left_shift)
    inside, r = _interpolate(np.abs(v), 9)
    r = np.where(inside, r, 0x7FFF << 10)
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_values(x: np.ndarray, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """int16 tanh of int16 ``x`` (output scale 2^-15): TFLM's int16 ``Tanh``."""
    v = _rescale(x, input_multiplier, input_left_shift)
    inside, r = _interpolate(np.abs(v), 8)
    r = np.where(inside, r, 0xFFFF << 8)
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)


def logistic(x: np.ndarray, *, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """The 16x8 LOGISTIC op (int16 in, int16 out at scale 2^-15)."""
    return logistic_values(x, input_multiplier, input_left_shift)


def tanh(x: np.ndarray, *, input_multiplier: int, input_left_shift: int) -> np.ndarray:
    """The 16x8 TANH op (int16 in, int16 out at scale 2^-15)."""
    return tanh_values(x, input_multiplier, input_left_shift)


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's ``CheckedLog2`` in float32: (is a power of two within 1e-3 in log2, rounded log2)."""
    x_log2 = np.float32(np.log(np.float32(x))) * np.float32(1.0 / np.float32(np.log(np.float32(2.0))))
    rounded = np.float32(math.copysign(math.floor(abs(float(x_log2)) + 0.5), float(x_log2)))
    return bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3)), int(rounded)


def sigmoid_tanh_params(input_scale: float, output_scale: float, *, tanh: bool) -> tuple[int, int]:
    """TFLM's int16 LOGISTIC / TANH ``Prepare``: ``(input_multiplier, input_left_shift)``.

    A power-of-two input scale 2^-12 (tanh also 2^-11) gives multiplier 0 (the kernel uses
    ``3 << shift``); any other scale ``m = s_in * 4096 * 3`` doubled until above 32767/2 (at
    most 31 times), truncated. The output scale must be 2^-15. Raises ValueError otherwise."""
    pot, log2 = checked_log2(input_scale)
    shift = 12 + log2
    if pot and (shift == 0 or (tanh and shift == 1)):
        mult = 0
    else:
        m, shift = float(np.float32(input_scale)) * 4096.0 * 3.0, 0
        while m <= 32767.0 / 2.0 and shift <= 30:
            shift, m = shift + 1, m * 2.0
        mult = int(m)
        if mult > 32767:
            raise ValueError(f"input scale {input_scale} is too large for TFLM's int16 sigmoid/tanh (at most ~2.67)")
    ok, out_log2 = checked_log2(output_scale)
    if not ok or out_log2 != -15:
        raise ValueError(f"output scale must be 2^-15 (TFLM requires it), got {output_scale}")
    return mult, shift
