"""Portable C lowering of the attention ops (``qc_batch_matmul_s8``, ``qc_layer_norm_s8``)."""

from __future__ import annotations

import math

from qcompile.codegen.lowering import Layer, Lowering
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ir import Node
from qcompile.ops import structs


@LOWERINGS.register("batch_matmul")
def _batch_matmul(lo: Lowering, layer: Layer, node: Node) -> int:
    a, b, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.batch_matmul_fields(lo.shape(a), lo.shape(b), node.attrs)
    if math.prod(fields["batch"]) * fields["rows"] * fields["cols"] != math.prod(lo.shape(y)):
        raise ValueError(f"batch_matmul parameters do not give the output shape {lo.shape(y)}")
    params = lo.struct(layer, "qc_batch_matmul_params", fields)
    lo.call(layer, "qc_batch_matmul_s8", [f"&{params}", lo.src(a), lo.src(b), lo.dst(y)], checked=True)
    return math.prod(lo.shape(y)) * fields["depth"]


@LOWERINGS.register("layer_norm")
def _layer_norm(lo: Lowering, layer: Layer, node: Node) -> int:
    x, gamma, beta = node.inputs
    y = node.outputs[0]
    params = lo.struct(layer, "qc_layer_norm_params", structs.layer_norm_fields(lo.shape(x), node.attrs))
    args = [f"&{params}", lo.src(x), lo.src(gamma), lo.src(beta), lo.dst(y)]
    lo.call(layer, "qc_layer_norm_s8", args, checked=True)
    return 2 * math.prod(lo.shape(x))
