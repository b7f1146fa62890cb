"""Portable C lowerings of ``maximum``, ``minimum`` (``qc_broadcast_params``) and ``prelu``
(``qc_prelu_params``): runtime_c/src/qc_minmax.c."""

from __future__ import annotations

import math

from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ops import structs


def _broadcast_call(lo, layer, node, fn: str, ctype: str, fields: dict) -> int:
    x1, x2, y = node.inputs[0], node.inputs[1], node.outputs[0]
    if math.prod(fields["out_shape"]) != math.prod(lo.shape(y)):
        raise ValueError(f"broadcast shape {fields['out_shape']} does not match the output {lo.shape(y)}")
    params = lo.struct(layer, ctype, fields)
    lo.call(layer, fn, [f"&{params}", lo.src(x1), lo.src(x2), lo.dst(y)], checked=True)
    return 0


@LOWERINGS.register("maximum", "minimum")
def _minmax(lo, layer, node) -> int:
    fields = structs.broadcast_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _broadcast_call(lo, layer, node, f"qc_{node.op}_s8", "qc_broadcast_params", fields)


@LOWERINGS.register("prelu")
def _prelu(lo, layer, node) -> int:
    fields = structs.prelu_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _broadcast_call(lo, layer, node, "qc_prelu_s8", "qc_prelu_params", fields)
