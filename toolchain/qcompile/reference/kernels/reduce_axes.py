"""numpy reference of the int8 reductions over any axes: ``reduce_sum`` (TFLite SUM, and
MEAN with the division folded into the multiplier) and ``reduce_max`` (TFLite REDUCE_MAX).

TFLM's ``QuantizedMeanOrSum`` sums the int8 values of each output in int32, subtracts
``zp_in * count`` and requantizes once::

    out = clamp(MBQM(sum(x) + input_offset * count, multiplier, shift) + output_offset)

For SUM, ``(multiplier, shift) = QuantizeMultiplier(s_in / s_out)``; for MEAN the same pair
with ``1/count`` folded in (``reference.reduce.mean_params``). REDUCE_MAX requires equal
input and output parameters (TFLM checks it), so it is the int8 maximum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.ir import QuantParams
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from qcompile.reference.reduce import MEAN_MAX_COUNT, mean_params

#: the C kernels take shapes right-aligned to this rank
MAX_RANK = 5


def reduce_sum_params(in_q: QuantParams, out_q: QuantParams, *, count: int, mean: bool) -> dict:
    """Integer attributes of a ``reduce_sum`` over ``count`` elements per output (a MEAN when ``mean``)."""
    if mean:
        return mean_params(in_q, out_q, count=count)
    if not 1 <= int(count) <= MEAN_MAX_COUNT:
        raise ValueError(f"SUM over {count} elements is not supported (1..{MEAN_MAX_COUNT})")
    m, e = quantize_multiplier(float(np.float32(in_q.scalar_scale())) / float(np.float32(out_q.scalar_scale())))
    if not -31 <= e <= 30:
        raise ValueError(f"SUM rescale s_in/s_out gives shift {e}, outside [-31, 30]")
    return {
        "input_offset": -in_q.scalar_zero_point(),
        "output_offset": out_q.scalar_zero_point(),
        "multiplier": int(m),
        "shift": int(e),
    }


def check_axes(rank: int, axes: Sequence[int]) -> tuple[int, ...]:
    """Sorted, distinct, non-negative axes of a rank-``rank`` tensor (rank <= 5)."""
    if not 1 <= rank <= MAX_RANK:
        raise ValueError(f"reductions take tensors of rank 1..{MAX_RANK}, got rank {rank}")
    out = tuple(sorted({int(a) for a in axes}))
    if not out or len(out) != len(tuple(axes)) or out[0] < 0 or out[-1] >= rank:
        raise ValueError(f"axes {tuple(axes)} are not distinct axes of a rank-{rank} tensor")
    return out


def reduced_shape(shape: Sequence[int], axes: Sequence[int], keep_dims: int) -> tuple[int, ...]:
    if keep_dims:
        return tuple(1 if i in axes else int(d) for i, d in enumerate(shape))
    return tuple(int(d) for i, d in enumerate(shape) if i not in axes)


def reduce_sum(
    x: np.ndarray,
    *,
    axes: Sequence[int],
    keep_dims: int,
    input_offset: int,
    output_offset: int,
    multiplier: int,
    shift: int,
) -> np.ndarray:
    """int8 sum over ``axes`` requantized by (multiplier, shift) (see the module docstring)."""
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"reduce_sum takes int8, got {x.dtype}")
    ax = check_axes(x.ndim, axes)
    count = int(np.prod([x.shape[a] for a in ax], dtype=np.int64))
    if not 1 <= count <= MEAN_MAX_COUNT:
        raise ValueError(f"reduction over {count} elements is not supported (1..{MEAN_MAX_COUNT})")
    if not -127 <= int(input_offset) <= 128 or not -128 <= int(output_offset) <= 127:
        raise ValueError(f"offsets out of range: input_offset {input_offset}, output_offset {output_offset}")
    if not -31 <= int(shift) <= 30:
        raise ValueError(f"shift {shift} outside [-31, 30]")
    total = x.astype(np.int64).sum(axis=ax) + int(input_offset) * count
    out = multiply_by_quantized_multiplier(total, int(multiplier), int(shift)) + int(output_offset)
    return np.clip(out, -128, 127).astype(np.int8).reshape(reduced_shape(x.shape, ax, keep_dims))


def reduce_max(x: np.ndarray, *, axes: Sequence[int], keep_dims: int) -> np.ndarray:
    """int8 maximum over ``axes`` (input and output share their quantization)."""
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"reduce_max takes int8, got {x.dtype}")
    ax = check_axes(x.ndim, axes)
    return x.max(axis=ax).reshape(reduced_shape(x.shape, ax, keep_dims))
