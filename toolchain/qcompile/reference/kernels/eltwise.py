"""int8 MAXIMUM, MINIMUM and PRELU with numpy broadcasting (TFLM's ``maximum_minimum.cc``
and ``prelu.cc``), the spec of ``runtime_c/src/qc_minmax.c`` (docs/QUANTIZATION.md).

MAXIMUM and MINIMUM compare the stored int8 values without rescaling, as TFLM does; the
ONNX quantizer gives both inputs and the output one set of parameters so that the
comparison of stored values is the comparison of real values.
"""

from __future__ import annotations

import numpy as np

from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, wrap_int32
from qcompile.reference.ops import _ALL_PAIRS, _check_binary, _pair_lookup


def maximum(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """``max(x1, x2)`` of the int8 values, broadcast."""
    x1, x2 = _check_binary(x1, x2)
    return np.maximum(x1, x2).astype(np.int8)


def minimum(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """``min(x1, x2)`` of the int8 values, broadcast."""
    x1, x2 = _check_binary(x1, x2)
    return np.minimum(x1, x2).astype(np.int8)


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
    """TFLM's int8 PRELU, ``alpha`` broadcast against ``x``::

    v   = x + input_offset
    out = clamp((v >= 0 ? MBQM(v, m1, s1) : MBQM(v * (alpha + alpha_offset), m2, s2)) + output_offset)
    """
    x, alpha = _check_binary(x, alpha)
    if np.broadcast_shapes(x.shape, alpha.shape) != x.shape:
        raise ValueError(f"alpha {alpha.shape} must broadcast to the input {x.shape}")
    for name, v in (("input_offset", input_offset), ("alpha_offset", alpha_offset)):
        if not -127 <= int(v) <= 128:
            raise ValueError(f"{name} {v} is outside [-127, 128]")
    for s in (output_shift_1, output_shift_2):
        if not -31 <= int(s) <= 31:
            raise ValueError(f"shift {s} is outside [-31, 31]")
    q, a = _ALL_PAIRS
    v = q + int(input_offset)
    pos = multiply_by_quantized_multiplier(v, int(output_multiplier_1), int(output_shift_1))
    neg = multiply_by_quantized_multiplier(v * (a + int(alpha_offset)), int(output_multiplier_2), int(output_shift_2))
    out = wrap_int32(np.where(v >= 0, pos, neg) + int(output_offset))
    table = np.clip(out, -128, 127).astype(np.int8)
    return _pair_lookup(table, x, alpha)
