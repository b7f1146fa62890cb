"""Lower each quantized node to straight-line C: a constant parameter struct and one kernel call.

Every shape and parameter becomes a compile-time constant (``static const`` structs in
``<name>.c``, const arrays in ``<name>_weights.c``); buffers are the caller's input and
output pointers, const arrays, or ``arena + offset`` from the memory plan. Node
attributes are read exactly as ``docs/QUANTIZATION.md`` names them; the C parameter
structs are the field dicts of :mod:`qcompile.ops.structs`, the very dicts the Cython
binding assigns to its structs, so the generated model and the host tests cannot disagree.

This module holds the dispatch (:class:`Lowering`) and the int8 lowerings; the shared helpers
are :mod:`qcompile.codegen.lowering_base` (re-exported here for the op plug-ins), the 16x8
lowerings :mod:`qcompile.codegen.lowering_s16`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from qcompile import op_params
from qcompile.codegen.lowering_base import (
    ConstArray,
    Layer,
    LoweringBase,
    Specialiser,
    _bias,
    _check_output,
    _requant_arrays,
    _struct_call,
    _table_call,
    c_float,
    c_int,
    c_int64,
    region_array,
)
from qcompile.codegen.lowering_s16 import S16_LOWERINGS, lower_requantize
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.codegen.names import comment_text
from qcompile.codegen.streaming import BandCall, emit_band, streamed
from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.ir import Node
from qcompile.ops import is_s16, split_conv_add, split_pool_fc, structs

__all__ = [
    "ConstArray",
    "Layer",
    "Lowering",
    "Specialiser",
    "_bias",
    "_check_output",
    "_requant_arrays",
    "c_float",
    "c_int",
    "c_int64",
    "region_array",
    "supported_ops",
]


class Lowering(LoweringBase):
    """Dispatches each node to its family's specialised kernel, its 16x8 lowering, or its
    portable int8 lowering (built-in or op plug-in)."""

    def lower(self, index: int, node: Node) -> Layer:
        s16 = is_s16(self.graph, node)
        if s16:
            lower_fn = S16_LOWERINGS.get(node.op) or _ANY_ELEMENT.get(node.op)
            if lower_fn is None:
                raise UnsupportedModelError(f"node {node.name!r}: op {node.op!r} has no 16x8 (int16) kernel yet")
        else:
            lower_fn = _LOWERINGS.get(node.op) or LOWERINGS.get(node.op)
        if lower_fn is None:
            raise UnsupportedModelError(f"node {node.name!r}: op {node.op!r} has no C lowering")
        layer = Layer(index, node.op, comment_text(f"{node.op} {node.name}"))
        try:
            # a family specialises a node (16x8 ones through lower_s16) or returns None: the portable kernel
            macs = None
            if self.family is not None:
                macs = (self.family.lower_s16 if s16 else self.family.lower)(self, layer, node)
            if macs is None:
                macs = lower_fn(self, layer, node)
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise QCompileError(f"node {node.name!r} ({node.op}): cannot generate C: {exc}") from exc
        out_t = self.graph.tensors[node.outputs[0]]
        q = out_t.quant
        layer.report = {
            "op": node.op,
            "name": node.name,
            "inputs": [list(self.shape(i)) for i in node.inputs if i and not self.graph.tensors[i].is_constant],
            "output": list(out_t.shape),
            "macs": int(macs),
            "output_scale": float(q.scale) if q is not None and not q.per_channel else None,
            "output_zero_point": int(q.zero_point) if q is not None and not q.per_channel else None,
            "scratch_bytes": int(self.plan.scratch_sizes.get(node.name, 0)),
            "output_location": self._location_report(node.outputs[0]),
        }
        layer.report.update(layer.extra_report)
        return layer


# ---- per-op lowerings (return the layer's MAC count) -----------------------------------


def _conv_like(lo: Lowering, layer: Layer, node: Node, depthwise: bool) -> int:
    a = node.attrs
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    xs, ws, ys = lo.shape(x), lo.shape(w), lo.shape(y)
    fields = structs.conv_fields(xs, ws, a, depthwise=depthwise)
    _check_output(fields, ("batches", "out_h", "out_w", "out_c"), ys)
    taps = ws[0] * ws[1] if depthwise else ws[1] * ws[2] * ws[3]
    params = lo.struct(layer, "qc_conv_params", fields)
    m, s = _requant_arrays(lo, node, ys[3])
    fn = "qc_depthwise_conv2d_s8" if depthwise else "qc_conv2d_s8"
    args = [f"&{params}", lo.src(x), lo.src(w), _bias(lo, node, ys[3]), m, s, lo.dst(y), lo.scratch(node)]
    band = lo.plan.row_bands.get(node.name)
    if not depthwise and streamed(lo, node):
        emit_band(lo, layer, node, _band_call(lo, "qc_conv2d_band_s8", args[:1], args[2:6], args[7:]))
        return math.prod(ys) * taps
    if band is not None and not depthwise:
        # scratch in dead arena bytes: the planner's row bands (qc_conv2d_rows.c)
        fn = "qc_conv2d_rows_s8"
        args[1:1] = [c_int(band[0]), c_int(band[1])]
        layer.extra_report["row_band"] = list(band)
    lo.call(layer, fn, args, checked=True)
    return math.prod(ys) * taps


def _band_call(lo: Lowering, fn: str, head: list[str], middle: list[str], tail: list[str]) -> BandCall:
    """The band call (codegen/streaming.py) of a portable conv kernel: ``fn(head..., r0, r1,
    in_first, out_first, input, middle..., output, tail...)``."""
    lo.functions.add(fn)

    def call(x: str, x_first: str, y: str, y_first: str, r0: str, r1: str) -> str:
        return f"{fn}({', '.join([*head, r0, r1, x_first, y_first, x, *middle, y, *tail])})"

    return call


def _conv2d(lo: Lowering, layer: Layer, node: Node) -> int:
    return _conv_like(lo, layer, node, depthwise=False)


def _depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    return _conv_like(lo, layer, node, depthwise=True)


def _fully_connected(lo: Lowering, layer: Layer, node: Node) -> int:
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.fc_fields(lo.shape(x), lo.shape(w), node.attrs)
    rows, n, k = fields["batches"], fields["out_features"], fields["in_features"]
    params = lo.struct(layer, "qc_fc_params", fields)
    m, s = _requant_arrays(lo, node, n if fields["per_channel"] else 1)
    args = [f"&{params}", lo.src(x), lo.src(w), _bias(lo, node, n), m, s, lo.dst(y), lo.scratch(node)]
    lo.call(layer, "qc_fully_connected_s8", args, checked=True)
    return rows * n * k


def _binary(lo: Lowering, layer: Layer, node: Node, fn: str, ctype: str, fields: dict[str, Any]) -> int:
    x1, x2, y = node.inputs[0], node.inputs[1], node.outputs[0]
    out5 = fields["out_shape"]
    if math.prod(out5) != math.prod(lo.shape(y)):
        raise ValueError(f"broadcast shape {out5} does not match the output {lo.shape(y)}")
    params = lo.struct(layer, ctype, fields)
    lo.call(layer, fn, [f"&{params}", lo.src(x1), lo.src(x2), lo.dst(y)], checked=True)
    return math.prod(out5) if fn == "qc_mul_s8" else 0


def _add(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.add_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _binary(lo, layer, node, "qc_add_s8", "qc_add_params", fields)


def _mul(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.mul_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _binary(lo, layer, node, "qc_mul_s8", "qc_mul_params", fields)


def _pool(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.pool_fields(lo.shape(x), a)
    _check_output(fields, ("batches", "out_h", "out_w", "channels"), lo.shape(y))
    params = lo.struct(layer, "qc_pool_params", fields)
    if node.op == "max_pool2d":
        lo.call(layer, "qc_max_pool2d_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    else:
        lo.call(layer, "qc_avg_pool2d_s8", [f"&{params}", lo.src(x), lo.dst(y), lo.scratch(node)], checked=True)
    return 0


def _softmax(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.softmax_fields(lo.shape(node.inputs[0]), node.attrs)
    return _struct_call(lo, layer, node, "qc_softmax_params", fields, "qc_softmax_s8")


def _lut(lo: Lowering, layer: Layer, node: Node) -> int:
    return _table_call(lo, layer, node, "int8_t", 256, "qc_lut_s8")


def _concat(lo: Lowering, layer: Layer, node: Node) -> int:
    """Byte concatenation (qc_concat_s8); int16 tensors pass byte pointers and byte sizes."""
    y = node.outputs[0]
    outer, inner = op_params.concat_layout([lo.shape(i) for i in node.inputs], node.attrs["axis"])
    item = np.dtype(lo.graph.tensors[y].dtype).itemsize
    what = "concat slice sizes" if item == 1 else "concat slice bytes"
    sizes = lo.array("q", f"{node.name}_sizes", "int32_t", item * np.asarray(inner), f"{node.name} {what}")
    cast, out_cast = ("", "") if item == 1 else ("(const int8_t *)", "(int8_t *)")
    ptrs = ", ".join(cast + lo.src(i) for i in node.inputs)
    n = len(node.inputs)
    lo.functions.add("qc_concat_s8")
    layer.statements.append(
        f"{{\n        const int8_t *const parts[{n}] = {{{ptrs}}};\n"
        f"        if (qc_concat_s8({c_int(outer)}, {n}, parts, {sizes}, {out_cast}{lo.dst(y)}) != QC_OK) {{\n"
        f"            return {layer.index + 1};\n        }}\n    }}"
    )
    return 0


def _pad(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.pad_fields(lo.shape(node.inputs[0]), node.attrs)
    return _struct_call(lo, layer, node, "qc_pad_params", fields, "qc_pad_s8")


def _transpose(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.transpose_fields(lo.shape(node.inputs[0]), node.attrs)
    return _struct_call(lo, layer, node, "qc_transpose_params", fields, "qc_transpose_s8")


def _reshape(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    if node.name in lo.plan.copy_reshapes:
        lo.copy(layer, lo.src(x), lo.dst(y), lo.graph.tensors[y].nbytes)
    else:
        layer.statements.append(f"/* alias: {comment_text(y)} shares the buffer of {comment_text(x)} */")
    return 0


def _copy(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    lo.copy(layer, lo.src(x), lo.dst(y), lo.graph.tensors[y].nbytes)
    return 0


def _conv2d_add(lo: Lowering, layer: Layer, node: Node) -> int:
    """conv2d with the residual add fused into its epilogue (qc_conv2d_add_s8); the output
    may be the residual's buffer (in place, see the planner)."""
    a, add_attrs, operand = split_conv_add(node.attrs)
    x, w, _, residual = node.inputs
    y = node.outputs[0]
    xs, ws, ys = lo.shape(x), lo.shape(w), lo.shape(y)
    if lo.shape(residual) != ys:
        raise ValueError(f"expects a residual of the output's shape {ys}, got {lo.shape(residual)}")
    conv_fields = structs.conv_fields(xs, ws, a, depthwise=False)
    _check_output(conv_fields, ("batches", "out_h", "out_w", "out_c"), ys)
    conv_params = lo.struct(layer, "qc_conv_params", conv_fields)
    add_layer = Layer(layer.index, "add", layer.comment)
    add_params = lo.struct(add_layer, "qc_add_params", structs.add_fields(None, None, add_attrs, prefix="add_"))
    add_ident = f"{add_params}_add"
    layer.params.append(add_layer.params[0].replace(f" {add_params} = ", f" {add_ident} = ", 1))
    conv_node = Node(node.name, "conv2d", [x, w, node.inputs[2]], [y], a)
    m, s = _requant_arrays(lo, conv_node, ys[3])
    args = [f"&{conv_params}", f"&{add_ident}", c_int(operand), lo.src(x), lo.src(w), _bias(lo, conv_node, ys[3])]
    args += [m, s, lo.src(residual), lo.dst(y), lo.scratch(node)]
    fn = "qc_conv2d_add_s8"
    if streamed(lo, node):
        emit_band(lo, layer, node, _band_call(lo, "qc_conv2d_add_band_s8", args[:3], args[4:9], args[10:]))
        layer.extra_report.update(fused=["conv2d", "add"], inplace_over=lo.plan.inplace.get(node.name))
        return math.prod(ys) * ws[1] * ws[2] * ws[3]
    band = lo.plan.row_bands.get(node.name)
    if band is not None:
        # scratch in dead arena bytes: the planner's row bands (qc_conv2d_rows.c)
        fn = "qc_conv2d_add_rows_s8"
        args[3:3] = [c_int(band[0]), c_int(band[1])]
        layer.extra_report["row_band"] = list(band)
    lo.call(layer, fn, args, checked=True)
    layer.extra_report.update(fused=["conv2d", "add"], inplace_over=lo.plan.inplace.get(node.name))
    return math.prod(ys) * ws[1] * ws[2] * ws[3]


def _avg_pool_fc(lo: Lowering, layer: Layer, node: Node) -> int:
    """Global average pool + fully connected (qc_avg_pool_fc_s8): the pooled vector lives in
    the node's scratch, not in the arena. Every target family uses this portable kernel
    (the FC of a model head is a few hundred MACs; the DSP family does not specialise it)."""
    pool_attrs, fc_attrs, _ = split_pool_fc(node.attrs)
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    xs = lo.shape(x)
    n, k = lo.shape(w)
    pool_fields = structs.pool_fields(xs, pool_attrs)
    if (pool_fields["out_h"], pool_fields["out_w"], pool_fields["channels"]) != (1, 1, k):
        raise ValueError(f"avg_pool_fc needs a global pool to {k} channels, got input {xs}")
    if math.prod(lo.shape(y)) != xs[0] * n:
        raise ValueError(f"avg_pool_fc output {lo.shape(y)} does not match [{xs[0]}, {n}]")
    pool_layer = Layer(layer.index, "avg_pool2d", layer.comment)
    pool_params = lo.struct(pool_layer, "qc_pool_params", pool_fields)
    pool_ident = f"{pool_params}_pool"
    layer.params.append(pool_layer.params[0].replace(f" {pool_params} = ", f" {pool_ident} = ", 1))
    fc_fields = structs.fc_fields((xs[0], k), (n, k), fc_attrs)
    per_channel = fc_fields["per_channel"]
    fc_params = lo.struct(layer, "qc_fc_params", fc_fields)
    m, s = _requant_arrays(lo, node, n if per_channel else 1)
    args = [f"&{pool_ident}", f"&{fc_params}", lo.src(x), lo.src(w), _bias(lo, node, n), m, s]
    args += [lo.dst(y), lo.scratch(node)]
    lo.call(layer, "qc_avg_pool_fc_s8", args, checked=True)
    chain = ["avg_pool2d"] + (["reshape"] if node.attrs.get("flatten", 1) else []) + ["fully_connected"]
    layer.extra_report.update(fused=chain)
    return xs[0] * n * k


def _mean(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLite MEAN over H and W (``qcompile.reference.reduce.mean``)."""
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.mean_fields(lo.shape(x), node.attrs)
    if math.prod(lo.shape(y)) != fields["batches"] * fields["channels"]:
        raise ValueError(f"mean reduces H and W of an [N,H,W,C] tensor, got {lo.shape(x)} -> {lo.shape(y)}")
    params = lo.struct(layer, "qc_mean_params", fields)
    lo.call(layer, "qc_mean_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _requantize(lo: Lowering, layer: Layer, node: Node) -> int:
    """int8 -> int16 conversion (an int8 node: its input is int8); the kernels are the 16x8 ones."""
    return lower_requantize(lo, layer, node)


_LOWERINGS: dict[str, Callable[[Lowering, Layer, Node], int]] = {
    "conv2d": _conv2d,
    "depthwise_conv2d": _depthwise,
    "fully_connected": _fully_connected,
    "add": _add,
    "mul": _mul,
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "softmax": _softmax,
    "lut": _lut,
    "concat": _concat,
    "pad": _pad,
    "transpose": _transpose,
    "reshape": _reshape,
    "copy": _copy,
    "conv2d_add": _conv2d_add,
    "avg_pool_fc": _avg_pool_fc,
    "mean": _mean,
    "requantize": _requantize,
}
#: ops that move elements without arithmetic: the int8 lowering serves 16x8 too (it copies bytes)
_ANY_ELEMENT = {op: _LOWERINGS[op] for op in ("concat", "reshape", "copy")}


def supported_ops() -> frozenset[str]:
    """Every quantized op with a portable C lowering: the built-in table and the ``lowerings`` plug-ins."""
    return frozenset(_LOWERINGS) | frozenset(LOWERINGS)
