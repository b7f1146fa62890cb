"""Lower 16x8 nodes (int16 activations, :func:`qcompile.ops.is_s16`) to the portable
``qc_<op>_s16`` kernels of ``runtime_c/include/qc_kernels_s16.h``.

The parameter structs are the int8 kernels' (``ops/structs.py`` with ``bits=16``), the
biases int64 const arrays. Kernel families specialise int8 layers only, so every target
runs these (docs/ARCHITECTURE.md, "Kernel families"). Ops that only move elements (concat,
reshape, copy) use the int8 lowerings, which copy bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from qcompile.codegen.lowering_base import Layer, _check_output, _requant_arrays, _struct_call, _table_call, c_int
from qcompile.codegen.lowering_base import LoweringBase as Lowering
from qcompile.ir import Node
from qcompile.ops import structs


def _bias(lo: Lowering, node: Node) -> tuple[str, str]:
    """The bias array (or NULL) and the kernel suffix: ``_s16`` for an int64 bias (or none),
    ``_b32_s16`` for TFLM's int32-bias variant (conv2d and fully_connected only)."""
    if len(node.inputs) > 2 and node.inputs[2]:
        dtype = lo.graph.tensors[node.inputs[2]].dtype
        if dtype == "int32" and node.op in ("conv2d", "fully_connected"):
            return lo.src(node.inputs[2]), "_b32_s16"
        if dtype != "int64":
            raise ValueError(f"a 16x8 {node.op} bias must be int64 (int32 only for conv2d and fully_connected)")
        return lo.src(node.inputs[2]), "_s16"
    return "NULL", "_s16"


def _conv_like(lo: Lowering, layer: Layer, node: Node) -> int:
    depthwise = node.op == "depthwise_conv2d"
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    xs, ws, ys = lo.shape(x), lo.shape(w), lo.shape(y)
    fields = structs.conv_fields(xs, ws, node.attrs, depthwise=depthwise, bits=16)
    _check_output(fields, ("batches", "out_h", "out_w", "out_c"), ys)
    params = lo.struct(layer, "qc_conv_params", fields)
    m, s = _requant_arrays(lo, node, ys[3])
    bias, suffix = _bias(lo, node)
    fn = ("qc_depthwise_conv2d" if depthwise else "qc_conv2d") + suffix
    lo.call(layer, fn, [f"&{params}", lo.src(x), lo.src(w), bias, m, s, lo.dst(y)], checked=True)
    taps = ws[0] * ws[1] if depthwise else ws[1] * ws[2] * ws[3]
    return math.prod(ys) * taps


def _fully_connected(lo: Lowering, layer: Layer, node: Node) -> int:
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.fc_fields(lo.shape(x), lo.shape(w), node.attrs, bits=16)
    params = lo.struct(layer, "qc_fc_params", fields)
    m, s = _requant_arrays(lo, node, fields["out_features"] if fields["per_channel"] else 1)
    bias, suffix = _bias(lo, node)
    args = [f"&{params}", lo.src(x), lo.src(w), bias, m, s, lo.dst(y)]
    lo.call(layer, "qc_fully_connected" + suffix, args, checked=True)
    return fields["batches"] * fields["out_features"] * fields["in_features"]


def _binary(lo: Lowering, layer: Layer, node: Node) -> int:
    x1, x2, y = node.inputs[0], node.inputs[1], node.outputs[0]
    build = structs.add_fields if node.op == "add" else structs.mul_fields
    fields = build(lo.shape(x1), lo.shape(x2), node.attrs, bits=16)
    if math.prod(fields["out_shape"]) != math.prod(lo.shape(y)):
        raise ValueError(f"broadcast shape {fields['out_shape']} does not match the output {lo.shape(y)}")
    params = lo.struct(layer, f"qc_{node.op}_params", fields)
    lo.call(layer, f"qc_{node.op}_s16", [f"&{params}", lo.src(x1), lo.src(x2), lo.dst(y)], checked=True)
    return math.prod(fields["out_shape"]) if node.op == "mul" else 0


def _pool(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.pool_fields(lo.shape(x), node.attrs, bits=16)
    _check_output(fields, ("batches", "out_h", "out_w", "channels"), lo.shape(y))
    params = lo.struct(layer, "qc_pool_params", fields)
    lo.call(layer, f"qc_{node.op}_s16", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _pad(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.pad_fields(lo.shape(node.inputs[0]), node.attrs, bits=16)
    return _struct_call(lo, layer, node, "qc_pad_params", fields, "qc_pad_s16")


def _transpose(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.transpose_fields(lo.shape(node.inputs[0]), node.attrs)
    return _struct_call(lo, layer, node, "qc_transpose_params", fields, "qc_transpose_s16")


def _softmax(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.softmax_fields(lo.shape(node.inputs[0]), node.attrs, bits=16)
    return _struct_call(lo, layer, node, "qc_softmax_params", fields, "qc_softmax_s16")


def _reduce_sum(lo: Lowering, layer: Layer, node: Node) -> int:
    """reduce_sum, and mean over H and W as the same kernel (``qc_reduce_sum_s16``)."""
    x, y = node.inputs[0], node.outputs[0]
    attrs = dict(node.attrs, axes=(1, 2)) if node.op == "mean" else node.attrs
    fields = structs.reduce_fields(lo.shape(x), attrs)
    kept = math.prod(d for d, r in zip(fields["in_shape"], fields["reduce"], strict=True) if not r)
    if kept != math.prod(lo.shape(y)):
        raise ValueError(f"reducing axes {tuple(attrs['axes'])} of {lo.shape(x)} does not give {lo.shape(y)}")
    count = math.prod(d for d, r in zip(fields["in_shape"], fields["reduce"], strict=True) if r)
    if count > 1 << 16:
        raise ValueError(f"an int16 reduction sums at most 65536 elements per output, not {count}")
    params = lo.struct(layer, "qc_reduce_params", fields)
    lo.call(layer, "qc_reduce_sum_s16", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _strided_slice(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.strided_slice_fields(lo.shape(node.inputs[0]), node.attrs)
    return _struct_call(lo, layer, node, "qc_strided_slice_params", fields, "qc_strided_slice_s16")


def lower_requantize(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLite QUANTIZE between int8 and int16 (``qc_requantize_s8_s16`` / ``_s16_s8`` / ``_s16``)."""
    x, y = node.inputs[0], node.outputs[0]
    src, dst = lo.graph.tensors[x].dtype, lo.graph.tensors[y].dtype
    fn = {("int8", "int16"): "qc_requantize_s8_s16", ("int16", "int8"): "qc_requantize_s16_s8"}.get(
        (src, dst), "qc_requantize_s16" if (src, dst) == ("int16", "int16") else None
    )
    if fn is None or int(node.attrs["output_bits"]) != np.dtype(dst).itemsize * 8:
        raise ValueError(f"requantize from {src} to {dst} (output_bits {node.attrs['output_bits']}) has no kernel")
    a = node.attrs
    args = [lo.src(x), lo.dst(y), c_int(math.prod(lo.shape(x)))]
    args += [c_int(a[k]) for k in ("input_offset", "output_offset", "multiplier", "shift")]
    lo.call(layer, fn, args, checked=True)
    return 0


def _sigmoid_tanh(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLM's int16 LOGISTIC / TANH (``qc_logistic_s16`` / ``qc_tanh_s16``)."""
    x, y = node.inputs[0], node.outputs[0]
    args = [lo.src(x), lo.dst(y), c_int(math.prod(lo.shape(x)))]
    args += [c_int(node.attrs[k]) for k in ("input_multiplier", "input_left_shift")]
    lo.call(layer, f"qc_{node.op}_s16", args, checked=True)
    return 0


def _lut(lo: Lowering, layer: Layer, node: Node) -> int:
    """The int16 table with interpolation (``qc_lut_s16``, 513 int16 entries)."""
    return _table_call(lo, layer, node, "int16_t", 513, "qc_lut_s16")


def _leaky_relu(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLM's int16 LEAKY_RELU (``qc_leaky_relu_s16``)."""
    x, y = node.inputs[0], node.outputs[0]
    args = [lo.src(x), lo.dst(y), c_int(math.prod(lo.shape(x)))]
    keys = ("multiplier_identity", "shift_identity", "multiplier_alpha", "shift_alpha")
    lo.call(layer, "qc_leaky_relu_s16", args + [c_int(node.attrs[k]) for k in keys], checked=True)
    return 0


def _minmax(lo: Lowering, layer: Layer, node: Node) -> int:
    x1, x2, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.broadcast_fields(lo.shape(x1), lo.shape(x2), node.attrs)
    if math.prod(fields["out_shape"]) != math.prod(lo.shape(y)):
        raise ValueError(f"broadcast shape {fields['out_shape']} does not match the output {lo.shape(y)}")
    params = lo.struct(layer, "qc_broadcast_params", fields)
    lo.call(layer, f"qc_{node.op}_s16", [f"&{params}", lo.src(x1), lo.src(x2), lo.dst(y)], checked=True)
    return 0


def _batch_matmul(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLM's int16 BATCH_MATMUL (``qc_batch_matmul_s16``, the int8 op's struct)."""
    a, b, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.batch_matmul_fields(lo.shape(a), lo.shape(b), node.attrs, bits=16)
    if math.prod(fields["batch"]) * fields["rows"] * fields["cols"] != math.prod(lo.shape(y)):
        raise ValueError(f"batch_matmul parameters do not give the output shape {lo.shape(y)}")
    params = lo.struct(layer, "qc_batch_matmul_params", fields)
    lo.call(layer, "qc_batch_matmul_s16", [f"&{params}", lo.src(a), lo.src(b), lo.dst(y)], checked=True)
    return math.prod(lo.shape(y)) * fields["depth"]


def _prelu(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLM's int16 PRELU (``qc_prelu_s16``: int16 input, int8 alpha)."""
    x, alpha, y = node.inputs[0], node.inputs[1], node.outputs[0]
    params = lo.struct(layer, "qc_prelu_params", structs.prelu_fields(lo.shape(x), lo.shape(alpha), node.attrs))
    lo.call(layer, "qc_prelu_s16", [f"&{params}", lo.src(x), lo.src(alpha), lo.dst(y)], checked=True)
    return 0


def _resize_nearest(lo: Lowering, layer: Layer, node: Node) -> int:
    """int16 nearest resize as ``qc_resize_nearest_s8`` on bytes: two per element, so the
    struct's channels are doubled and the pointers passed as bytes."""
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.resize_fields(lo.shape(x), node.attrs)
    _check_output(fields, ("batches", "out_h", "out_w", "channels"), lo.shape(y))
    params = lo.struct(layer, "qc_resize_params", dict(fields, channels=2 * fields["channels"]))
    tables = [
        lo.array("q", f"{node.name}_{k}", "int32_t", np.asarray(node.attrs[k]), f"{node.name} {k}")
        for k in ("y_index", "x_index")
    ]
    args = [f"&{params}", *tables, f"(const int8_t *){lo.src(x)}", f"(int8_t *){lo.dst(y)}"]
    lo.call(layer, "qc_resize_nearest_s8", args, checked=True)
    return 0


S16_LOWERINGS: dict[str, Callable[[Lowering, Layer, Node], int]] = {
    "conv2d": _conv_like,
    "depthwise_conv2d": _conv_like,
    "fully_connected": _fully_connected,
    "add": _binary,
    "mul": _binary,
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "softmax": _softmax,
    "mean": _reduce_sum,
    "reduce_sum": _reduce_sum,
    "pad": _pad,
    "transpose": _transpose,
    "strided_slice": _strided_slice,
    "requantize": lower_requantize,
    "logistic": _sigmoid_tanh,
    "tanh": _sigmoid_tanh,
    "lut": _lut,
    "leaky_relu": _leaky_relu,
    "maximum": _minmax,
    "minimum": _minmax,
    "batch_matmul": _batch_matmul,
    "prelu": _prelu,
    "resize_nearest": _resize_nearest,
}
