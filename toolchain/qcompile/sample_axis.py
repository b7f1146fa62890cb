"""Where the samples are in a data array: the one rule every tool applies to model inputs and outputs.

Why one rule: calibration, ``verify``/``eval``/``compare``, the Python API and the
``--stateful`` stream all stack many samples of a model input in one array. Most inputs
carry a leading batch dimension of 1 (or a symbolic one, fixed to 1 at import), and the
samples then replace it: ``[N, *shape[1:]]``. Recurrent state does not: PyTorch exports an
``nn.GRU``/``nn.LSTM`` state as ``[num_layers * num_directions, batch, hidden]``, and a
voice-activity model's ``state`` is ``[2, B, 128]``. Stripping that first dimension (2) as
if it were the batch loses half the state. So:

- a tensor whose first dimension is 1 has its samples on that axis: one sample is
  ``shape[1:]``, a data array is ``[N, *shape[1:]]`` (or ``[N, *shape]``, the 1 kept);
- any other tensor (first dimension > 1, or rank 0) keeps its whole shape per sample and the
  samples go on a new leading axis: ``[N, *shape]`` (``np.stack`` of the recorded states).

The same rule reads a single-sample output of onnxruntime (``[2, 1, 16]`` is one sample,
``[1, 12]`` too), so outputs of per-sample runs are stacked consistently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.errors import QCompileError


def leading_batch(shape: Sequence[int]) -> bool:
    """True when ``shape``'s first dimension is the (size-1) batch the samples replace."""
    return len(shape) > 0 and int(shape[0]) == 1


def sample_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """The shape of one sample of a tensor shaped ``shape`` (module doc)."""
    dims = tuple(int(d) for d in shape)
    return dims[1:] if leading_batch(dims) else dims


def accepted_shapes(shape: Sequence[int]) -> list[tuple[int, ...]]:
    """The per-sample shapes a data array of this tensor may have (after its first axis, N)."""
    one = sample_shape(shape)
    full = tuple(int(d) for d in shape)
    return [one] if full == one else [one, full]


def as_samples(values: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """``values`` (one sample in the model's shape, or many stacked) as ``[N, *sample_shape]``."""
    return np.asarray(values).reshape((-1, *sample_shape(shape)))


def samples_perm(perm: Sequence[int], shape: Sequence[int]) -> tuple[int, ...]:
    """The transpose of a samples array ``[N, *sample_shape(shape)]`` that applies the
    per-tensor permutation ``perm`` (over the tensor's own axes) to every sample."""
    if leading_batch(shape):
        return tuple(int(p) for p in perm)  # perm[0] == 0: the batch axis is the samples axis
    return (0, *(int(p) + 1 for p in perm))


def checked_samples(arr: np.ndarray, shape: Sequence[int], what: str, name: str) -> np.ndarray:
    """``arr`` as ``[N, *sample_shape(shape)]``, or one error naming ``what`` (e.g. "calib.npz:
    array 'h0'") and the input ``name``, the shapes it may have and how to build them."""
    arr = np.asarray(arr)
    one = sample_shape(shape)
    for form in accepted_shapes(shape):
        if arr.ndim == len(form) + 1 and tuple(arr.shape[1:]) == form and arr.shape[0] > 0:
            return arr.reshape((arr.shape[0], *one))
    forms = " or ".join(fmt_samples(f) for f in accepted_shapes(shape))
    hint = ""
    if not leading_batch(shape) and len(shape) > 1:
        hint = (
            f"; the model input is shaped {tuple(int(d) for d in shape)} (its first axis is not a batch of 1, "
            "e.g. a [layers, batch, hidden] recurrent state), so stack the samples on a new first axis: "
            "np.stack(samples)"
        )
    raise QCompileError(f"{what} has shape {tuple(arr.shape)}; expected {forms} for input {name!r}{hint}")


def fmt_samples(sample: Sequence[int]) -> str:
    """``(N, d1, d2)``: how messages show a samples array of per-sample shape ``sample``."""
    return "(N, " + ", ".join(str(s) for s in sample) + ")" if len(sample) else "(N,)"
