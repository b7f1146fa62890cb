"""TFLite GATHER, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, SUM, REDUCE_MAX, MEAN
over any axes, TRANSPOSE_CONV, DEPTH_TO_SPACE and SPACE_TO_DEPTH, with TFLM's integer
semantics (docs/QUANTIZATION.md): the data-movement ops copy int8 bytes without
rescaling (as TFLM's int8 kernels do), SUM and MEAN are ``QuantizedMeanOrSum``, REDUCE_MAX
needs equal input and output parameters (TFLM refuses others), TRANSPOSE_CONV derives
its per-channel multipliers and padding as TFLM's ``Prepare`` does."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from qcompile.frontends.tflite_ops import TFLITE_OPS
from qcompile.reference.kernels.reduce_axes import reduce_sum_params
from qcompile.reference.kernels.resize import tflite_nearest_index


def _const_ints(imp, index: int, what: str) -> list[int]:
    t = imp.t(index)
    if t.data is None:
        raise ValueError(f"{what} must be a constant tensor")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _io(imp, op) -> tuple[str, str]:
    return imp.name(op.inputs[0]), imp.name(op.outputs[0])


@TFLITE_OPS.register("GATHER")
def _gather(imp, op) -> None:
    if int(op.options.get("batch_dims", 0)) != 0:
        raise ValueError("GATHER with batch_dims != 0 is not supported")
    x_t = imp.t(op.inputs[0])
    rank = len(x_t.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    indices = _const_ints(imp, op.inputs[1], "GATHER indices (constant indices required)")
    if not indices or min(indices) < 0 or max(indices) >= x_t.shape[axis]:
        raise ValueError(f"GATHER indices {indices} are outside axis {axis} of size {x_t.shape[axis]}")
    x, y = _io(imp, op)
    shape = list(x_t.shape)
    shape[axis] = len(indices)
    if math.prod(shape) != math.prod(imp.graph.tensors[y].shape):
        raise ValueError(f"GATHER output {imp.graph.tensors[y].shape} does not hold {shape}")
    if tuple(shape) == tuple(imp.graph.tensors[y].shape):
        imp.add(op, "gather", [x], [y], {"axis": axis, "indices": tuple(indices)})
        return
    mid = imp.new_activation(f"{y}__gathered", tuple(shape), x)  # indices of rank 0 or >= 2
    imp.add(op, "gather", [x], [mid], {"axis": axis, "indices": tuple(indices)})
    imp.add(op, "reshape", [mid], [y], {"shape": tuple(imp.graph.tensors[y].shape)})


@TFLITE_OPS.register("TRANSPOSE")
def _transpose(imp, op) -> None:
    perm = _const_ints(imp, op.inputs[1], "TRANSPOSE perm")
    rank = len(imp.t(op.inputs[0]).shape)
    if sorted(perm) != list(range(rank)) or rank > 5:
        raise ValueError(f"TRANSPOSE perm {perm} is not a permutation of a rank-{rank} (<= 5) tensor")
    x, y = _io(imp, op)
    imp.add(op, "transpose", [x], [y], {"perm": tuple(perm)})


@TFLITE_OPS.register("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")
def _resize(imp, op) -> None:
    x_t = imp.t(op.inputs[0])
    size = _const_ints(imp, op.inputs[1], f"{op.op} size")
    if len(x_t.shape) != 4 or len(size) != 2:
        raise ValueError(f"{op.op} takes a 4-D input and a size of 2 values")
    align = int(bool(op.options.get("align_corners", 0)))
    half = int(bool(op.options.get("half_pixel_centers", 0)))
    x, y = _io(imp, op)
    if op.op == "RESIZE_BILINEAR":
        if align and half:
            raise ValueError("align_corners and half_pixel_centers cannot both be set")
        attrs = {"size": tuple(size), "align_corners": align, "half_pixel_centers": half}
        imp.add(op, "resize_bilinear", [x], [y], attrs)
        return
    yi = tflite_nearest_index(x_t.shape[1], size[0], bool(align), bool(half))
    xi = tflite_nearest_index(x_t.shape[2], size[1], bool(align), bool(half))
    imp.add(op, "resize_nearest", [x], [y], {"y_index": tuple(yi), "x_index": tuple(xi)})


def reduce_any(imp, op) -> None:
    """MEAN (any axes), SUM and REDUCE_MAX as ``reduce_sum`` / ``reduce_max``."""
    x_t = imp.t(op.inputs[0])
    rank = len(x_t.shape)
    axes = sorted({a + rank if a < 0 else a for a in _const_ints(imp, op.inputs[1], f"{op.op} axes")})
    if not axes or axes[0] < 0 or axes[-1] >= rank or rank > 5:
        raise ValueError(f"{op.op} axes {axes} do not fit a rank-{rank} (<= 5) tensor")
    keep = int(bool(op.options.get("keep_dims", 0)))
    x, y = _io(imp, op)
    qi, qo = imp.q(op.inputs[0]), imp.q(op.outputs[0])
    if op.op == "REDUCE_MAX":
        if (np.float32(qi.scalar_scale()), qi.scalar_zero_point()) != (
            np.float32(qo.scalar_scale()),
            qo.scalar_zero_point(),
        ):
            raise ValueError("int8 REDUCE_MAX needs equal input and output scale and zero point (TFLM requires it)")
        imp.add(op, "reduce_max", [x], [y], {"axes": tuple(axes), "keep_dims": keep})
        return
    count = math.prod(x_t.shape[a] for a in axes)
    params = reduce_sum_params(qi, qo, count=count, mean=op.op == "MEAN")
    imp.add(op, "reduce_sum", [x], [y], {"axes": tuple(axes), "keep_dims": keep, **params})


TFLITE_OPS.register("SUM", "REDUCE_MAX")(reduce_any)


@TFLITE_OPS.register("TRANSPOSE_CONV")
def _transpose_conv(imp, op) -> None:
    from qcompile.frontends.tflite_import import _requant_attrs, _weights

    has_bias = len(op.inputs) > 3 and op.inputs[3] >= 0
    conv_like = dataclasses.replace(op, inputs=[op.inputs[2], op.inputs[1], *([op.inputs[3]] if has_bias else [])])
    w_name, b_name, w = _weights(imp, conv_like, 0)
    x_t, y_t = imp.t(op.inputs[2]), imp.t(op.outputs[0])
    oc, kh, kw, _ = w.shape
    strides = (int(op.options["stride_h"]), int(op.options["stride_w"]))
    pads = []
    for out, k, s, size in zip(y_t.shape[1:3], (kh, kw), strides, x_t.shape[1:3], strict=True):
        fwd = -(-out // s) if op.options["padding"] == "SAME" else (out - k + s) // s
        before = max((fwd - 1) * s + k - out, 0) // 2  # TFLM's ComputePaddingHeightWidth on the output
        pads.append((before, (size - 1) * s + k - before - out))
    attrs = {"strides": strides, "pads": (pads[0][0], pads[1][0], pads[0][1], pads[1][1])}
    attrs.update(_requant_attrs(imp, conv_like, w, oc))
    inputs = [imp.name(op.inputs[2]), w_name, *([b_name] if b_name else [])]
    imp.add(op, "transpose_conv2d", inputs, [imp.name(op.outputs[0])], attrs)


@TFLITE_OPS.register("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def _depth_space(imp, op) -> None:
    bs = int(op.options.get("block_size", 0))
    n, h, w, c = imp.t(op.inputs[0]).shape
    if bs < 1:
        raise ValueError(f"{op.op} needs a positive block_size")
    if op.op == "DEPTH_TO_SPACE":
        if c % (bs * bs):
            raise ValueError(f"channels {c} are not a multiple of block_size^2")
        mid, perm = (n * h, w, bs, bs * (c // (bs * bs))), (0, 2, 1, 3)
    else:
        if h % bs or w % bs:
            raise ValueError(f"H and W ({h}, {w}) are not multiples of block_size {bs}")
        mid, perm = (n * (h // bs), bs, w // bs, bs, c), (0, 2, 1, 3, 4)
    x, y = _io(imp, op)
    a = imp.new_activation(f"{x}__blocks", mid, x)
    imp.add(op, "reshape", [x], [a], {"shape": mid})
    b = imp.new_activation(f"{y}__blocks", tuple(mid[p] for p in perm), x)
    imp.add(op, "transpose", [a], [b], {"perm": perm})
    imp.add(op, "reshape", [b], [y], {"shape": tuple(imp.graph.tensors[y].shape)})
