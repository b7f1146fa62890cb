"""int8 strided slice: the one data-movement op behind TFLite STRIDED_SLICE, SLICE, SPLIT and
SPLIT_V and ONNX Slice and Split (the importers turn each output into one slice)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile import op_params


def strided_slice(x: np.ndarray, *, begin: Sequence[int], size: Sequence[int], strides: Sequence[int]) -> np.ndarray:
    """Output element ``i`` of axis ``k`` is input element ``begin[k] + i * strides[k]``; the
    output has shape ``size``. Bytes are copied unchanged (input and output share scale and
    zero point, as TFLite requires)."""
    x = np.asarray(x)
    op_params.strided_slice_layout(x.shape, begin, size, strides)  # the bounds the C kernel checks
    index = np.ix_(*(int(b) + int(s) * np.arange(int(n)) for b, n, s in zip(begin, size, strides, strict=True)))
    return np.ascontiguousarray(x[index])
