"""numpy reference of the int8 reductions (the spec): MEAN over H and W.

TFLite Micro's int8 MEAN (``reference_ops::QuantizedMeanOrSum``, ``compute_sum=false``)
folds the division by the element count into the output multiplier at ``Prepare`` time:

    (m, e) = QuantizeMultiplier(double(s_in) / double(s_out))
    n      = number of reduced elements
    k      = min(floor(log2(n)), 32, 31 + e)
    m'     = (int64(m) << k) / n            (C integer division)
    e'     = e - k
    out    = clamp(MBQM(sum(x) - zp_in * n, m', e') + zp_out, -128, 127)

``mean_params`` computes ``m'`` and ``e'`` so the kernel (and the C, ``qc_mean_s8``) only
sums, offsets and requantizes once per output.
"""

from __future__ import annotations

import numpy as np

from qcompile.ir import QuantParams
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier

# Sums of int8 over more than 2^23 elements could leave int32; TFLM would wrap, we refuse.
MEAN_MAX_COUNT = 1 << 23


def mean_params(in_q: QuantParams, out_q: QuantParams, *, count: int) -> dict:
    """Attributes of a quantized ``mean`` reducing ``count`` elements per output."""
    count = int(count)
    if not 1 <= count <= MEAN_MAX_COUNT:
        raise ValueError(f"MEAN over {count} elements is not supported (1..{MEAN_MAX_COUNT})")
    m, e = quantize_multiplier(float(np.float32(in_q.scalar_scale())) / float(np.float32(out_q.scalar_scale())))
    # quantize_multiplier gives e >= -31, so k >= 0: the shift below is never negative.
    k = min(count.bit_length() - 1, 32, 31 + e)
    return {
        "input_offset": -in_q.scalar_zero_point(),
        "output_offset": out_q.scalar_zero_point(),
        "multiplier": int((m << k) // count),
        "shift": int(e - k),
    }


def mean(
    x: np.ndarray, *, input_offset: int, output_offset: int, multiplier: int, shift: int, keep_dims: int
) -> np.ndarray:
    """TFLM's int8 MEAN over axes 1 and 2 of an NHWC tensor (see the module docstring)::

    out[n, c] = clamp(MBQM(sum_{h,w} x[n,h,w,c] + input_offset * H * W, multiplier, shift) + output_offset)

    Output ``[N, 1, 1, C]`` when ``keep_dims`` else ``[N, C]``.
    """
    x = np.asarray(x)
    if x.dtype != np.int8 or x.ndim != 4:
        raise ValueError(f"mean takes an int8 [N,H,W,C] tensor, got {x.dtype} {x.shape}")
    n, h, w, c = x.shape
    if not 1 <= h * w <= MEAN_MAX_COUNT:
        raise ValueError("mean window too large")
    # input_offset is minus an int8 zero point: with it, |sum + offset * count| < 255 * 2^23 < 2^31.
    # A wider offset would let the int32 sum of the C kernel overflow.
    if not -127 <= int(input_offset) <= 128 or not -128 <= int(output_offset) <= 127:
        raise ValueError(
            f"mean offsets out of range: input_offset {input_offset} (-127..128), output_offset {output_offset}"
        )
    if not -31 <= int(shift) <= 30:
        raise ValueError("mean shift out of range")
    total = x.astype(np.int64).sum(axis=(1, 2)) + int(input_offset) * h * w
    out = multiply_by_quantized_multiplier(total, int(multiplier), int(shift)) + int(output_offset)
    out = np.clip(out, -128, 127).astype(np.int8)
    return out.reshape(n, 1, 1, c) if keep_dims else out
