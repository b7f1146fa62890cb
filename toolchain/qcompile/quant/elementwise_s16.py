"""The 16x8 forms of a float ``elementwise`` node (``--act-bits 16``): which int16 kernel
computes each real function, so that no int8 island (requantize in and out) is left.

- ``sigmoid`` / ``tanh``: TFLM's int16 LOGISTIC / TANH (``logistic`` / ``tanh`` ops,
  ``reference/kernels/sigmoid_s16.py``); the quantizer pins their output scale to 2^-15.
- ``leaky_relu`` with alpha >= 0: TFLM's int16 LEAKY_RELU (``leaky_relu``).
- ``scale`` with a positive factor (shared-range identities): an int16 ``requantize``.
- every other function (Gelu, Erf, Exp, Log, Elu, HardSwish, HardSigmoid, Clip, ...): a
  513-entry int16 table with interpolation (TFLite's ``LUTPopulate<int16_t>`` /
  ``LUTLookup``, ``lut`` with an int16 table, :func:`eltwise_s16.lut_table_s16`).
docs/QUANTIZATION.md, "16x8 elementwise functions".
"""

from __future__ import annotations

from qcompile import op_params
from qcompile.ir import Graph, Node
from qcompile.reference.float_ops import elementwise_function
from qcompile.reference.kernels import eltwise_s16
from qcompile.reference.kernels.sigmoid_s16 import sigmoid_tanh_params


def _scales(graph: Graph, node: Node) -> tuple[float, float]:
    qi, qo = graph.tensors[node.inputs[0]].quant, graph.tensors[node.outputs[0]].quant
    assert qi is not None and qo is not None, node.name
    return qi.scalar_scale(), qo.scalar_scale()


def _sigmoid_tanh(node: Node, s_in: float, s_out: float) -> bool:
    tanh = node.attrs["fn"] == "tanh"
    try:
        mult, shift = sigmoid_tanh_params(s_in, s_out, tanh=tanh)
    except ValueError:  # input scale beyond TFLM's range, or output not 2^-15: the table
        return False
    node.op = "tanh" if tanh else "logistic"
    node.attrs = {"input_multiplier": mult, "input_left_shift": shift}
    return True


def elementwise_s16(graph: Graph, node: Node) -> None:
    """Rewrite float ``elementwise`` ``node`` (int16 input and output) into its int16 op."""
    s_in, s_out = _scales(graph, node)
    attrs = dict(node.attrs)
    fn = attrs.pop("fn")
    if fn in ("sigmoid", "tanh") and _sigmoid_tanh(node, s_in, s_out):
        return
    if fn == "leaky_relu" and float(attrs.get("alpha", 0.01)) >= 0:
        node.op = "leaky_relu"
        node.attrs = eltwise_s16.leaky_relu_params(s_in, s_out, float(attrs.get("alpha", 0.01)))
        return
    if fn == "scale" and float(attrs.get("factor", 1.0)) > 0:
        mult, shift = op_params.requantize_multiplier(s_in * float(attrs.get("factor", 1.0)) / s_out)
        node.op = "requantize"
        node.attrs = {"input_offset": 0, "output_offset": 0, "multiplier": mult, "shift": shift, "output_bits": 16}
        return
    node.op = "lut"
    node.attrs = {"table": eltwise_s16.lut_table_s16(elementwise_function(fn, **attrs), s_in, s_out)}
