"""int8 forms of ``maximum``, ``minimum`` and ``prelu`` (docs/QUANTIZATION.md).

``maximum``/``minimum``: the quantizer gives both inputs and the output one set of
parameters (``quantize._SHARES_ALL_PARAMS``), so TFLM's comparison of stored int8 values
is exact; a constant operand is quantized with the output's parameters.
``prelu``: TFLM's PRELU ``Prepare``: ``alpha`` quantized per tensor from its own range,
``m1 = QuantizeMultiplier(s_in / s_out)``, ``m2 = QuantizeMultiplier(s_in * s_alpha / s_out)``.
"""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph, Node
from qcompile.quant.converters import QUANT_CONVERTERS
from qcompile.quant.fixedpoint import quantize_multiplier


@QUANT_CONVERTERS.register("maximum", "minimum")
def _convert_minmax(graph: Graph, node: Node) -> None:
    from qcompile.quant.quantize import _replace_constant

    out_q = graph.tensors[node.outputs[0]].quant
    for i, name in enumerate(node.inputs):
        t = graph.tensors[name]
        if t.is_constant:
            node.inputs[i] = _replace_constant(graph, name, out_q.quantize(t.data), out_q, "int8")
    node.attrs = {}


@QUANT_CONVERTERS.register("prelu")
def _convert_prelu(graph: Graph, node: Node) -> None:
    from qcompile.quant.quantize import _replace_constant, activation_params

    x, slope = node.inputs
    in_q, out_q = graph.tensors[x].quant, graph.tensors[node.outputs[0]].quant
    data = graph.tensors[slope].data
    alpha_q = activation_params(float(np.min(data)), float(np.max(data)))
    node.inputs[1] = _replace_constant(graph, slope, alpha_q.quantize(data), alpha_q, "int8")
    s_in, s_out, s_a = in_q.scalar_scale(), out_q.scalar_scale(), alpha_q.scalar_scale()
    m1, e1 = quantize_multiplier(float(s_in) / float(s_out))
    m2, e2 = quantize_multiplier(float(s_in) * float(s_a) / float(s_out))
    node.attrs = {
        "input_offset": -in_q.scalar_zero_point(),
        "alpha_offset": -alpha_q.scalar_zero_point(),
        "output_offset": out_q.scalar_zero_point(),
        "output_multiplier_1": int(m1),
        "output_shift_1": int(e1),
        "output_multiplier_2": int(m2),
        "output_shift_2": int(e2),
    }
