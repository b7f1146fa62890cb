"""Portable C lowering of ``lstm`` (``qc_lstm_unidirectional_s8``, runtime_c/src/qc_lstm.c): one
``qc_lstm_params`` struct, the weights as they are, and the two folded bias arrays
(``structs.lstm_folded_biases``: TFLM's FC offsets as constants); with one requantisation per
gate row (the ONNX LSTM's per-row weights, ``structs.lstm_row_requant``) the ``_per_row`` variant
and its ``[4 H][4]`` requantisation array."""

from __future__ import annotations

from qcompile.codegen.lowerings import LOWERINGS
from qcompile.ops import structs


@LOWERINGS.register("lstm")
def _lstm(lo, layer, node) -> int:
    x, w, r, b, h0, c0 = node.inputs
    y, h, c = node.outputs
    fields = structs.lstm_fields(lo.shape(x), lo.shape(w), node.attrs)
    graph = lo.graph
    bias_in, bias_rec = structs.lstm_folded_biases(
        graph.tensors[w].data, graph.tensors[r].data, graph.tensors[b].data, node.attrs
    )
    params = lo.struct(layer, "qc_lstm_params", fields)
    bi = lo.array("w", f"{node.name}_bias_in", "int32_t", bias_in, f"{node.name} input bias (offset folded)")
    br = lo.array("w", f"{node.name}_bias_rec", "int32_t", bias_rec, f"{node.name} recurrent bias (offset folded)")
    args = [f"&{params}", lo.src(x), lo.src(w), lo.src(r), bi, br, lo.src(h0), lo.src(c0)]
    args += [lo.dst(y), lo.dst(h), lo.dst(c)]
    rows = structs.lstm_row_requant(node.attrs, fields["hidden_size"])
    kernel = "qc_lstm_unidirectional_s8"
    if rows is not None:
        kernel = "qc_lstm_unidirectional_per_row_s8"
        args.insert(4, lo.array("w", f"{node.name}_requant", "int32_t", rows, f"{node.name} per-row gate requant"))
    lo.call(layer, kernel, args, checked=True)
    hidden, inputs = fields["hidden_size"], fields["input_size"]
    return fields["batches"] * fields["time_steps"] * 4 * hidden * (inputs + hidden)
