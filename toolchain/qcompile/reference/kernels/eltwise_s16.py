"""16x8 elementwise ops beyond :mod:`qcompile.reference.s16`: the int16 table (``lut`` with
513 entries), LEAKY_RELU, MAXIMUM and MINIMUM on int16 activations (zero point 0).

- ``lut``: TFLite's int16 table scheme (``LUTPopulate<int16_t>`` + ``LUTLookup`` in
  ``tensorflow/lite/kernels/internal/common.h``): 513 entries sampling ``f`` over the int16
  input range, entry ``256 + (x >> 7)`` plus the slope to the next entry times the low 7
  bits. :func:`lut_table_s16` builds the table (``f`` evaluated in float32, as TFLite's
  float ``LUTPopulate`` does). The C twin is ``qc_lut_s16``.
- ``leaky_relu``: TFLM's ``QuantizeLeakyRelu<int16_t>``: ``MBQM(x, identity)`` for
  ``x >= 0``, else ``MBQM(x, alpha)``, clamped to int16 (:func:`leaky_relu_params` is
  ``Prepare``, the multipliers formed from float32 scales as TFLM does).
- ``maximum`` / ``minimum``: the stored int16 values compared, broadcast (TFLM does not
  rescale; both inputs and the output share one scale).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from qcompile.reference.s16 import _as_int16 as _int16
from qcompile.reference.s16 import lut_lookup_int16, lut_populate_int16

#: entries of an int16 table: 512 segments and the end point
LUT_S16_SIZE = 513


def lut_table_s16(fn: Callable[[np.ndarray], np.ndarray], in_scale: float, out_scale: float) -> np.ndarray:
    """The 513-entry int16 table of real function ``fn`` between symmetric int16 tensors
    (``LUTPopulate<int16_t>(s_in, 0, s_out, 0, fn)``; ``fn`` sees and returns float32)."""

    def f32(v: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = np.asarray(fn(np.asarray(v, np.float32)), np.float32)
        if np.any(np.isnan(out)):
            raise ValueError("the table's function returned NaN on the int16 input range")
        return np.clip(out, np.float32(-1e30), np.float32(1e30))

    return lut_populate_int16(f32, float(in_scale), 0, float(out_scale), 0)


def lut(x: np.ndarray, *, table: np.ndarray) -> np.ndarray:
    """An elementwise function of int16 ``x`` by a 513-entry int16 table with interpolation."""
    x = _int16(x, "x")
    table = np.asarray(table)
    if table.shape != (LUT_S16_SIZE,) or table.dtype != np.int16:
        raise ValueError(f"an int16 lut table must be int16[{LUT_S16_SIZE}], got {table.dtype}{list(table.shape)}")
    return lut_lookup_int16(x, table).astype(np.int16)


def leaky_relu_params(in_scale: float, out_scale: float, alpha: float) -> dict[str, int]:
    """TFLM's LEAKY_RELU ``Prepare`` for int16: QuantizeMultiplier of ``s_in * alpha / s_out``
    and ``s_in / s_out`` (float32 quotients widened to double). alpha must be >= 0."""
    if not alpha >= 0:
        raise ValueError(f"LeakyRelu alpha {alpha} < 0 has no int16 kernel")
    s_in, s_out, a = np.float32(in_scale), np.float32(out_scale), np.float32(alpha)
    mi, si = quantize_multiplier(float(np.float32(s_in / s_out)))
    ma, sa = quantize_multiplier(float(np.float32(np.float32(s_in * a) / s_out)))
    return {"multiplier_identity": mi, "shift_identity": si, "multiplier_alpha": ma, "shift_alpha": sa}


def leaky_relu(
    x: np.ndarray, *, multiplier_identity: int, shift_identity: int, multiplier_alpha: int, shift_alpha: int
) -> np.ndarray:
    """TFLM's int16 LEAKY_RELU (zero points 0)."""
    d = _int16(x, "x").astype(np.int64)
    for m, s in ((multiplier_identity, shift_identity), (multiplier_alpha, shift_alpha)):
        if not 0 <= int(m) <= 2**31 - 1 or not -31 <= int(s) <= 30:
            raise ValueError(f"leaky_relu multiplier {m} / shift {s} out of range")
    pos = multiply_by_quantized_multiplier(d, int(multiplier_identity), int(shift_identity))
    neg = multiply_by_quantized_multiplier(d, int(multiplier_alpha), int(shift_alpha))
    return np.clip(np.where(d >= 0, pos, neg), -32768, 32767).astype(np.int16)


def maximum(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """``max(x1, x2)`` of the stored int16 values, broadcast."""
    return np.maximum(_int16(x1, "x1"), _int16(x2, "x2")).astype(np.int16)


def minimum(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """``min(x1, x2)`` of the stored int16 values, broadcast."""
    return np.minimum(_int16(x1, "x1"), _int16(x2, "x2")).astype(np.int16)


def prelu(
    x: np.ndarray,
    alpha: np.ndarray,
    *,
    input_offset: int,
    alpha_offset: int,
    output_offset: int,
    output_multiplier_1: int,
    output_shift_1: int,
    output_multiplier_2: int,
    output_shift_2: int,
) -> np.ndarray:
    """TFLM's int16 PRELU (``BroadcastPrelu4DSlow<int16_t>``): int16 ``x`` (offsets 0), int8
    ``alpha`` (with its own zero point) broadcast against it::

    out = clamp(x >= 0 ? MBQM(x, m1, s1) : MBQM(x * (alpha + alpha_offset), m2, s2))   (int16)
    """
    x, alpha = _int16(x, "x"), np.asarray(alpha)
    if alpha.dtype != np.int8:
        raise ValueError(f"16x8 prelu alpha must be int8, got {alpha.dtype}")
    if np.broadcast_shapes(x.shape, alpha.shape) != x.shape:
        raise ValueError(f"alpha {alpha.shape} must broadcast to the input {x.shape}")
    if int(input_offset) != 0 or int(output_offset) != 0 or not -127 <= int(alpha_offset) <= 128:
        raise ValueError("16x8 prelu needs input/output offsets 0 and alpha_offset in [-127, 128]")
    for s in (output_shift_1, output_shift_2):
        if not -31 <= int(s) <= 31:
            raise ValueError(f"shift {s} is outside [-31, 31]")
    v = x.astype(np.int64)
    a = np.broadcast_to(alpha.astype(np.int64) + int(alpha_offset), x.shape)
    pos = multiply_by_quantized_multiplier(v, int(output_multiplier_1), int(output_shift_1))
    neg = multiply_by_quantized_multiplier(v * a, int(output_multiplier_2), int(output_shift_2))
    return np.clip(np.where(v >= 0, pos, neg), -32768, 32767).astype(np.int16)
