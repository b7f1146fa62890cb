"""16x8 BATCH_MATMUL of two int16 activations: TFLM's ``EvalInt16`` (reference_ops::BatchMatMul
with ``AccumT = int64_t``), the spec of ``qc_batch_matmul_s16``::

    out[..., m, n] = clamp(MBQM64(sum_k A[..., m, k] * B[..., k, n], output_multiplier, output_shift))

in int16, every zero point 0 (TFLM checks them), ``MBQM64`` the 16x8 requantisation
(:func:`qcompile.quant.fixedpoint.multiply_by_quantized_multiplier_int64`, shift in [-31, 7]).
The attributes are the int8 op's (``quant/converters/transformer.batch_matmul_params``).
"""

from __future__ import annotations

import numpy as np

from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier_int64
from qcompile.reference.kernels.transformer import matmul_operands


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
    """int16 ``A x B`` (``A`` = ``a`` with its last two axes swapped when ``adj_x``, ``B`` = ``b``
    swapped when ``adj_y``; leading dims broadcast), int64 sums, one rounding."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.int16 or b.dtype != np.int16:
        raise ValueError("16x8 batch_matmul operands must be int16")
    if (int(lhs_offset), int(rhs_offset), int(output_offset)) != (0, 0, 0):
        raise ValueError("16x8 batch_matmul needs zero points of 0")
    if not -31 <= int(output_shift) <= 7 or not -32768 <= int(act_min) <= int(act_max) <= 32767:
        raise ValueError("16x8 batch_matmul: output_shift in [-31, 7], bounds within int16")
    lhs, rhs = matmul_operands(a, b, adj_x, adj_y)
    acc = np.matmul(lhs.astype(np.int64), rhs.astype(np.int64))
    out = multiply_by_quantized_multiplier_int64(acc, int(output_multiplier), int(output_shift))
    return np.clip(out, int(act_min), int(act_max)).astype(np.int16)
