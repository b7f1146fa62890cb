"""Portable lowering of ``strided_slice`` (``qc_strided_slice_s8``)."""

from __future__ import annotations

from qcompile.codegen.lowering_base import _struct_call
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ops import structs


@LOWERINGS.register("strided_slice")
def lower_strided_slice(lo, layer, node) -> int:
    fields = structs.strided_slice_fields(lo.shape(node.inputs[0]), node.attrs)
    return _struct_call(lo, layer, node, "qc_strided_slice_params", fields, "qc_strided_slice_s8")
