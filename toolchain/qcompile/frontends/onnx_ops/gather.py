"""ONNX Gather of an activation with constant indices, on any axis (TFLite GATHER)."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS


def _problem(node, ins, a, const) -> str | None:
    if ins[1] not in const:
        return "constant indices required: Gather is compiled only with constant indices (an activation as index is not supported)"
    return None


@ONNX_OPS.register("Gather", problem=_problem)
def _gather(conv, node, ins, a) -> None:
    x, y = ins[0], node.output[0]
    shape = conv.shape(x)
    rank = len(shape)
    axis = int(a.get("axis", 0)) % rank
    idx = np.asarray(conv.const[ins[1]]).astype(np.int64)
    flat = np.where(idx < 0, idx + shape[axis], idx).reshape(-1)
    if flat.size == 0 or flat.min() < 0 or flat.max() >= shape[axis]:
        raise conv.fail(f"Gather indices {idx.reshape(-1).tolist()} are outside axis {axis} of size {shape[axis]}")
    indices = tuple(int(i) for i in flat)
    xin, perm = conv.act(x)
    if idx.ndim == 1:
        out = conv.new_act(y, perm)
        conv.emit("gather", [xin], [out], axis=perm.index(axis), indices=indices)
        return
    if idx.ndim == 0:  # the axis disappears: gather one slice, then drop the size-1 axis (free)
        phys = list(conv.g.tensors[xin].shape)
        phys[perm.index(axis)] = 1
        picked = conv.tmp_act(f"{y}__gathered", phys, source=y)
        conv.emit("gather", [xin], [picked], axis=perm.index(axis), indices=indices)
        kept = [p for p in perm if p != axis]
        out_perm = tuple(p - (p > axis) for p in kept)
        out = conv.new_act(y, out_perm)
        conv.emit("reshape", [picked], [out], shape=tuple(int(d) for i, d in enumerate(phys) if perm[i] != axis))
        return
    # indices of rank >= 2: gather the flat list in logical order, then reshape
    logical = conv.get(x, tuple(range(rank)))
    mid = list(shape)
    mid[axis] = flat.size
    picked = conv.tmp_act(f"{y}__gathered", mid, source=y)
    conv.emit("gather", [logical], [picked], axis=axis, indices=indices)
    out_shape = conv.shape(y)
    out = conv.new_act(y, tuple(range(len(out_shape))))
    conv.emit("reshape", [picked], [out], shape=tuple(int(d) for d in out_shape))
