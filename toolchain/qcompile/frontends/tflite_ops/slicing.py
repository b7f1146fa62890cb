"""STRIDED_SLICE, SLICE, SPLIT and SPLIT_V: each output is one ``strided_slice`` node.

TFLM copies the bytes of these ops without rescaling (input and output share scale and zero
point), so the IR op is pure data movement. Begin, end, sizes and axes must be constants.
STRIDED_SLICE follows TFLM's ``StartForAxis``/``StopForAxis``: negative indices count from
the end, masked bounds take the whole axis in the stride's direction, the rest is clamped;
shrunk axes are sliced to one element and then reshaped away.
"""

from __future__ import annotations

import numpy as np

from qcompile import op_params
from qcompile.frontends.tflite_ops import TFLITE_OPS


def _const(imp, index: int, what: str) -> list[int]:
    t = imp.t(index)
    if t.data is None:
        raise ValueError(f"{what} must be a constant tensor")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _slice(imp, op, x: str, out_index: int, begin, size, strides) -> None:
    """One ``strided_slice`` node into TFLite tensor ``out_index`` (reshaped if it drops axes)."""
    y = imp.name(out_index)
    y_shape = tuple(imp.graph.tensors[y].shape)
    size = tuple(int(n) for n in size)
    if int(np.prod(size)) != int(np.prod(y_shape)):
        raise ValueError(f"the slice holds {size}, the output tensor is {y_shape}")
    out = y if size == y_shape else imp.new_activation(f"{y}_slice", size, y)
    attrs = {"begin": tuple(int(b) for b in begin), "size": size, "strides": tuple(int(s) for s in strides)}
    imp.add(op, "strided_slice", [x], [out], attrs)
    if out != y:
        imp.add(op, "reshape", [out], [y], {"shape": y_shape})


@TFLITE_OPS.register("STRIDED_SLICE")
def strided_slice(imp, op) -> None:
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0) or o.get("offset", 0):
        # TFLM's Prepare ignores ``offset`` (TFLite adds begin to end): no single meaning to match
        raise ValueError("ellipsis_mask, new_axis_mask and offset are not supported")
    shape = imp.t(op.inputs[0]).shape
    rank = len(shape)
    begin, end = _const(imp, op.inputs[1], "begin"), _const(imp, op.inputs[2], "end")
    strides = _const(imp, op.inputs[3], "strides") if len(op.inputs) > 3 else [1] * len(begin)
    if not len(begin) == len(end) == len(strides) <= rank or 0 in strides:
        raise ValueError(f"begin {begin}, end {end} and strides {strides} do not fit an input of rank {rank}")
    given = len(begin)  # axes past the given ones are taken whole
    begin, end, strides = (v + [fill] * (rank - given) for v, fill in ((begin, 0), (end, 0), (strides, 1)))
    starts, sizes = [], []
    for axis, dim in enumerate(shape):
        bit = 1 << axis
        masked_begin = axis >= given or bool(o.get("begin_mask", 0) & bit)
        masked_end = axis >= given or bool(o.get("end_mask", 0) & bit)
        if o.get("shrink_axis_mask", 0) & bit:
            start, _ = op_params.slice_axis(begin[axis], dim, dim, 1, whole_begin=masked_begin)
            strides[axis], n = 1, 1
        else:
            start, n = op_params.slice_axis(
                begin[axis], end[axis], dim, strides[axis], whole_begin=masked_begin, whole_end=masked_end
            )
        starts.append(start)
        sizes.append(n)
    _slice(imp, op, imp.name(op.inputs[0]), op.outputs[0], starts, sizes, strides)


@TFLITE_OPS.register("SLICE")
def slice_(imp, op) -> None:
    shape = imp.t(op.inputs[0]).shape
    begin, size = _const(imp, op.inputs[1], "begin"), _const(imp, op.inputs[2], "size")
    if not len(begin) == len(size) == len(shape):
        raise ValueError(f"begin {begin} and size {size} need one entry per input axis ({len(shape)})")
    size = [d - b if n == -1 else n for d, b, n in zip(shape, begin, size, strict=True)]
    _slice(imp, op, imp.name(op.inputs[0]), op.outputs[0], begin, size, [1] * len(shape))


def _split(imp, op, x_index: int, axis: int, parts: list[int]) -> None:
    shape = imp.t(x_index).shape
    axis = axis + len(shape) if axis < 0 else axis
    if not 0 <= axis < len(shape):
        raise ValueError(f"axis {axis} is outside an input of rank {len(shape)}")
    if parts.count(-1) == 1:
        parts[parts.index(-1)] = shape[axis] - (sum(parts) + 1)
    if sum(parts) != shape[axis] or min(parts) < 0 or len(parts) != len(op.outputs):
        raise ValueError(f"splits {parts} do not divide axis {axis} of {shape[axis]} into {len(op.outputs)} outputs")
    x, start = imp.name(x_index), 0
    for out_index, n in zip(op.outputs, parts, strict=True):
        begin = [start if a == axis else 0 for a in range(len(shape))]
        size = [n if a == axis else d for a, d in enumerate(shape)]
        _slice(imp, op, x, out_index, begin, size, [1] * len(shape))
        start += n


@TFLITE_OPS.register("SPLIT")
def split(imp, op) -> None:
    (axis,) = _const(imp, op.inputs[0], "axis")
    shape = imp.t(op.inputs[1]).shape
    count = len(op.outputs)
    dim = shape[axis + len(shape) if axis < 0 else axis]
    if dim % count:
        raise ValueError(f"axis of {dim} does not split into {count} equal parts")
    _split(imp, op, op.inputs[1], axis, [dim // count] * count)


@TFLITE_OPS.register("SPLIT_V")
def split_v(imp, op) -> None:
    (axis,) = _const(imp, op.inputs[2], "axis")
    _split(imp, op, op.inputs[0], axis, _const(imp, op.inputs[1], "size_splits"))
