"""ONNX ReduceMean, ReduceSum and ReduceMax over any axes, keepdims either way.

The reduction runs in the activation's physical layout: the ONNX axes are mapped through
its permutation, and without ``keepdims`` the output's permutation is the input's with the
reduced axes dropped, so no transpose is ever needed. ReduceMean over H and W of a 4-D
NCHW tensor is a global ``avg_pool2d`` (the GlobalAveragePool kernel, which the head
fusion can merge with a following FC); every other mean or sum is a ``reduce_sum``
(TFLite MEAN/SUM arithmetic), a max a ``reduce_max``."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS

_AXES_INPUT_SINCE = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18}


def _axes(conv_or_const, node, ins, a, opset: int):
    """The reduced ONNX axes (None: all), from the attribute or the constant second input."""
    if opset >= _AXES_INPUT_SINCE[node.op_type]:
        if not ins[1]:
            return None
        data = conv_or_const[ins[1]]
        return [int(v) for v in np.asarray(data).reshape(-1)] or None
    return [int(v) for v in a["axes"]] if "axes" in a else None


def _problem(node, ins, a, const) -> str | None:
    if ins[1] and ins[1] not in const:
        return "the axes input must be a constant (re-export with constant axes)"
    return None


@ONNX_OPS.register("ReduceMean", "ReduceSum", "ReduceMax", problem=_problem)
def _reduce(conv, node, ins, a) -> None:
    x, y = ins[0], node.output[0]
    shape = conv.shape(x)
    rank = len(shape)
    axes = _axes(conv.const, node, ins, a, conv.opset)
    if axes is None and int(a.get("noop_with_empty_axes", 0)):
        conv.val[y] = conv.act(x)
        return
    axes = sorted({ax % rank for ax in (range(rank) if axes is None else axes)})
    if rank > 5:
        raise conv.fail(f"reductions of rank-{rank} tensors are not supported (at most 5)")
    keep = int(a.get("keepdims", 1))
    op = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max"}[node.op_type]
    if op == "reduce_mean" and rank == 4 and axes == [2, 3]:
        _global_mean(conv, x, y, shape, keep)
        return
    xin, perm = conv.act(x)
    phys_axes = tuple(sorted(perm.index(ax) for ax in axes))
    if keep:
        out = conv.new_act(y, perm)
    else:
        kept = [p for p in perm if p not in axes]
        renumber = {lg: i for i, lg in enumerate(sorted(kept))}
        out = conv.new_act(y, tuple(renumber[p] for p in kept))
    conv.emit(op, [xin], [out], axes=phys_axes, keep_dims=keep)


def _global_mean(conv, x, y, shape, keep: int) -> None:
    nhwc = (0, 2, 3, 1)
    xin = conv.get(x, nhwc)
    attrs = dict(kernel=tuple(shape[2:4]), strides=(1, 1), pads=(0, 0, 0, 0), act_range=(None, None))
    if keep:
        conv.emit("avg_pool2d", [xin], [conv.new_act(y, nhwc)], **attrs)
        return
    pooled = conv.tmp_act(f"{y}__pooled", (shape[0], 1, 1, shape[1]), source=y)
    conv.emit("avg_pool2d", [xin], [pooled], **attrs)
    out = conv.new_act(y, (0, 1))
    conv.emit("reshape", [pooled], [out], shape=(shape[0], shape[1]))
