"""Size limits every importer enforces before it allocates anything a file declares.

Why: a model or calibration file states its sizes (dims, buffer lengths, sample counts)
separately from the bytes it holds, and a hostile or corrupt file can declare a tensor of
2^40 elements in a few bytes. Every frontend checks declared sizes here, against the file
and against these limits, before numpy or onnxruntime allocate, so a bad file ends in one
``QCompileError`` naming the tensor instead of an exhausted machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qcompile.errors import QCompileError

#: Elements in one tensor (16 Mi: an int8 activation of 16 MiB, far above any
#: microcontroller's RAM, yet small enough that calibration batches stay in memory).
MAX_TENSOR_ELEMENTS = 1 << 24

#: Rank of any tensor qcompile handles (the kernels go up to 4-D, TFLite to 6-D).
MAX_RANK = 8

#: Bytes of one calibration array after loading (1 GiB).
MAX_CALIBRATION_BYTES = 1 << 30


def check_shape(shape: Sequence[int], what: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    """Return ``shape`` as ints if every dim is positive and the total is within the limits.

    ``what`` names the tensor for the message (e.g. ``"m.onnx: initializer 'w'"``).
    ``allow_empty`` accepts zero dims (constant tensors of no elements, such as an empty
    Reshape shape or optional scales)."""
    dims = tuple(int(d) for d in shape)
    if len(dims) > MAX_RANK:
        raise QCompileError(f"{what} has rank {len(dims)}; qcompile handles tensors of rank {MAX_RANK} at most")
    lowest = 0 if allow_empty else 1
    bad = [d for d in dims if d < lowest]
    if bad:
        raise QCompileError(
            f"{what} has shape {list(dims)} with dimension {bad[0]}: every dimension must be at least {lowest}; "
            "the model is corrupt or was exported with a wrong shape"
        )
    count = math.prod(dims)
    if count > MAX_TENSOR_ELEMENTS:
        raise QCompileError(
            f"{what} has shape {list(dims)} ({count:,} elements), above qcompile's limit of "
            f"{MAX_TENSOR_ELEMENTS:,} elements per tensor; the model is corrupt or far too large for a microcontroller"
        )
    return dims
