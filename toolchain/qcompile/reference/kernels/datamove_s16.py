"""16x8 RESIZE_NEAREST_NEIGHBOR (TFLM's int16 kernel copies elements, as the int8 one): the
int8 op's index tables applied to int16 values. The C computes it with ``qc_resize_nearest_s8``
on bytes (two per element, ``channels`` doubled: ``codegen/lowering_s16.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.reference.kernels.resize import resize_nearest as _resize_nearest_s8


def resize_nearest(x: np.ndarray, *, y_index: Sequence[int], x_index: Sequence[int]) -> np.ndarray:
    """``out[n, y, x, c] = x[n, y_index[y], x_index[x], c]`` on int16 [N, H, W, C]."""
    x = np.asarray(x)
    if x.dtype != np.int16 or x.ndim != 4:
        raise ValueError(f"16x8 resize_nearest takes an int16 [N,H,W,C] tensor, got {x.dtype} {x.shape}")
    as_bytes = np.ascontiguousarray(x).view(np.int8)  # [N, H, W, 2C]: the same rows and columns
    return np.ascontiguousarray(_resize_nearest_s8(as_bytes, y_index=y_index, x_index=x_index)).view(np.int16)
