"""ONNX Slice and Split: each output is one ``strided_slice`` node (the op TFLite's STRIDED_SLICE,
SLICE, SPLIT and SPLIT_V import to). Starts, ends, axes, steps and split sizes must be
constants. Bounds follow ONNX (negative indices count from the end, then clamping), computed
on the model's axes and then permuted to the tensor's physical layout."""

from __future__ import annotations

import numpy as np

from qcompile import op_params
from qcompile.frontends.onnx_ops import ONNX_OPS


def _constants_problem(names, const) -> str | None:
    missing = [n for n in names if n and n not in const]
    return f"{', '.join(missing)} must be constant" if missing else None


def _slice_problem(node, ins, attrs, const) -> str | None:
    return _constants_problem(ins[1:5], const)


def _split_problem(node, ins, attrs, const) -> str | None:
    return _constants_problem(ins[1:2], const)


def _ints(conv, name: str) -> list[int]:
    return [int(v) for v in np.asarray(conv.const[name]).reshape(-1)]


def _emit_slice(conv, x: str, perm, out_name: str, begin, size, steps) -> None:
    """One ``strided_slice`` of physical tensor ``x`` (layout ``perm``) into ONNX ``out_name``."""
    out = conv.new_act(out_name, perm)
    conv.emit(
        "strided_slice",
        [x],
        [out],
        begin=tuple(int(begin[p]) for p in perm),
        size=tuple(int(size[p]) for p in perm),
        strides=tuple(int(steps[p]) for p in perm),
    )


@ONNX_OPS.register("Slice", problem=_slice_problem)
def slice_(conv, node, ins, attrs) -> None:
    x, perm = conv.act(ins[0])
    shape = conv.shape(ins[0])
    rank = len(shape)
    starts, ends = _ints(conv, ins[1]), _ints(conv, ins[2])
    axes = [a % rank for a in _ints(conv, ins[3])] if ins[3] else list(range(len(starts)))
    steps = _ints(conv, ins[4]) if ins[4] else [1] * len(starts)
    begin, size, stride = [0] * rank, list(shape), [1] * rank
    for axis, s, e, st in zip(axes, starts, ends, steps, strict=True):
        begin[axis], size[axis] = op_params.slice_axis(s, e, shape[axis], st)
        stride[axis] = st
    if 0 in size:
        raise conv.fail(f"the slice of {ins[0]!r} is empty")
    _emit_slice(conv, x, perm, node.output[0], begin, size, stride)


@ONNX_OPS.register("Split", problem=_split_problem)
def split(conv, node, ins, attrs) -> None:
    x, perm = conv.act(ins[0])
    shape = conv.shape(ins[0])
    axis = int(attrs.get("axis", 0)) % len(shape)
    outputs = [o for o in node.output]
    if ins[1]:
        parts = _ints(conv, ins[1])
    elif attrs.get("split") is not None:
        parts = [int(v) for v in attrs["split"]]
    else:  # equal parts; the last one smaller when the axis does not divide (opset 18)
        chunk = -(-shape[axis] // len(outputs))
        parts = [min(chunk, shape[axis] - chunk * i) for i in range(len(outputs))]
    if len(parts) != len(outputs) or sum(parts) != shape[axis] or min(parts) < 1:
        raise conv.fail(f"split sizes {parts} do not divide axis {axis} of {shape[axis]} into {len(outputs)} outputs")
    start = 0
    for out_name, n in zip(outputs, parts, strict=True):
        begin = [start if a == axis else 0 for a in range(len(shape))]
        size = [n if a == axis else d for a, d in enumerate(shape)]
        if out_name:
            _emit_slice(conv, x, perm, out_name, begin, size, [1] * len(shape))
        start += n
