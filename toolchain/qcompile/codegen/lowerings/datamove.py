"""Portable C lowerings of the reductions over any axes, gather, the resizes and the
transposed convolution (``runtime_c/src/qc_{reduce,gather,resize,transpose_conv2d}.c``)."""

from __future__ import annotations

import math

import numpy as np

from qcompile.codegen.lowering import Layer, Lowering, _bias, _check_output, _requant_arrays
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ir import Node
from qcompile.ops import structs


@LOWERINGS.register("reduce_sum", "reduce_max")
def _reduce(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.reduce_fields(lo.shape(x), node.attrs)
    kept = math.prod(d for d, r in zip(fields["in_shape"], fields["reduce"], strict=True) if not r)
    if kept != math.prod(lo.shape(y)):
        raise ValueError(f"reducing axes {tuple(node.attrs['axes'])} of {lo.shape(x)} does not give {lo.shape(y)}")
    params = lo.struct(layer, "qc_reduce_params", fields)
    lo.call(layer, f"qc_{node.op}_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _index_array(lo: Lowering, node: Node, part: str, values) -> str:
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    return lo.array("q", f"{node.name}_{part}", "int32_t", arr, f"{node.name} {part}")


@LOWERINGS.register("gather")
def _gather(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.gather_fields(lo.shape(x), node.attrs)
    if fields["outer"] * fields["num_indices"] * fields["inner"] != math.prod(lo.shape(y)):
        raise ValueError(f"gather of {lo.shape(x)} does not give {lo.shape(y)}")
    params = lo.struct(layer, "qc_gather_params", fields)
    idx = _index_array(lo, node, "indices", node.attrs["indices"])
    lo.call(layer, "qc_gather_s8", [f"&{params}", idx, lo.src(x), lo.dst(y)], checked=True)
    return 0


@LOWERINGS.register("resize_nearest", "resize_bilinear")
def _resize(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.resize_fields(lo.shape(x), node.attrs)
    _check_output(fields, ("batches", "out_h", "out_w", "channels"), lo.shape(y))
    params = lo.struct(layer, "qc_resize_params", fields)
    if node.op == "resize_bilinear":
        lo.call(layer, "qc_resize_bilinear_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
        return 0
    yi = _index_array(lo, node, "y_index", node.attrs["y_index"])
    xi = _index_array(lo, node, "x_index", node.attrs["x_index"])
    lo.call(layer, "qc_resize_nearest_s8", [f"&{params}", yi, xi, lo.src(x), lo.dst(y)], checked=True)
    return 0


@LOWERINGS.register("transpose_conv2d")
def _transpose_conv(lo: Lowering, layer: Layer, node: Node) -> int:
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.transpose_conv_fields(lo.shape(x), lo.shape(w), node.attrs)
    _check_output(fields, ("batches", "out_h", "out_w", "out_c"), lo.shape(y))
    params = lo.struct(layer, "qc_conv_params", fields)
    oc = fields["out_c"]
    m, s = _requant_arrays(lo, node, oc)
    args = [f"&{params}", lo.src(x), lo.src(w), _bias(lo, node, oc), m, s, lo.dst(y)]
    lo.call(layer, "qc_transpose_conv2d_s8", args, checked=True)
    _, h, wd, c = lo.shape(x)
    return fields["batches"] * h * wd * c * oc * fields["kernel_h"] * fields["kernel_w"]
