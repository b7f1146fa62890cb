"""numpy reference of ``gather`` with constant indices (TFLite GATHER, ONNX Gather): int8
values selected along one axis, no arithmetic (input and output share their quantization)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def gather(x: np.ndarray, *, axis: int, indices: Sequence[int]) -> np.ndarray:
    """``out = take(x, indices, axis)``: indices 1-D, each in [0, x.shape[axis])."""
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"gather takes int8, got {x.dtype}")
    axis = int(axis)
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} is not an axis of a rank-{x.ndim} tensor")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= x.shape[axis]:
        raise ValueError(f"gather indices must lie in [0, {x.shape[axis]}), got {idx.tolist()}")
    return np.take(x, idx, axis=axis)
