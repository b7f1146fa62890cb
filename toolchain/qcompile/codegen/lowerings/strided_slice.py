"""Portable lowering of ``strided_slice`` (``qc_strided_slice_s8``)."""

from __future__ import annotations

from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ops import structs


@LOWERINGS.register("strided_slice")
def lower_strided_slice(lo, layer, node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    params = lo.struct(layer, "qc_strided_slice_params", structs.strided_slice_fields(lo.shape(x), node.attrs))
    lo.call(layer, "qc_strided_slice_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0
