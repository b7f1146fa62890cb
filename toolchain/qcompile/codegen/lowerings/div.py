"""Portable C lowering of ``div`` (``qc_mul_params``): runtime_c/src/qc_div.c."""

from __future__ import annotations

from qcompile.codegen.lowerings import LOWERINGS
from qcompile.codegen.lowerings.eltwise import _broadcast_call
from qcompile.ops import structs


@LOWERINGS.register("div")
def _div(lo, layer, node) -> int:
    fields = structs.div_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _broadcast_call(lo, layer, node, "qc_div_s8", "qc_mul_params", fields)
