"""Portable C lowering of the ONNX GRU (``qc_gru_s8``, docs/QUANTIZATION.md "gru")."""

from __future__ import annotations

from qcompile.codegen.lowering import Layer, Lowering
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ir import Node
from qcompile.ops import structs


@LOWERINGS.register("gru")
def _gru(lo: Lowering, layer: Layer, node: Node) -> int:
    x, w, r, wb, rb, requant, h0 = node.inputs
    y = node.outputs[0]
    fields = structs.gru_fields(lo.shape(x), node.attrs)
    want = (fields["steps"], fields["directions"], fields["batch"], fields["hidden"])
    if lo.shape(y) != want:
        raise ValueError(f"gru output shape {lo.shape(y)} differs from {want}")
    params = lo.struct(layer, "qc_gru_params", fields)
    args = [f"&{params}", lo.src(x), lo.src(w), lo.src(r), lo.src(wb), lo.src(rb), lo.src(requant)]
    if len(node.outputs) == 2:  # the Q15 state in and out (--stateful, docs/QUANTIZATION.md "gru")
        args += [lo.src(h0), lo.dst(y), lo.dst(node.outputs[1]), lo.scratch(node)]
        lo.call(layer, "qc_gru_state16_s8", args, checked=True)
    else:
        args += [lo.src(h0) if h0 else "NULL", lo.dst(y), lo.scratch(node)]
        lo.call(layer, "qc_gru_s8", args, checked=True)
    steps, dirs, batch, hidden = want
    return steps * dirs * batch * 3 * hidden * (fields["input_size"] + hidden)
