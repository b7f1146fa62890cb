"""int8 forms of ``maximum``, ``minimum`` and ``prelu`` (docs/QUANTIZATION.md).

``maximum``/``minimum``: the quantizer gives both inputs and the output one set of
parameters (``quantize._SHARES_ALL_PARAMS``), so TFLM's comparison of stored int8 values
is exact; a constant operand is quantized with the output's parameters.
``prelu``: ``alpha`` quantized per tensor from its own range, then TFLM's PRELU ``Prepare``
(``op_params.prelu_params``). ``global_avg_pool`` (``quant/global_mean.py``): TFLite MEAN.
"""

from __future__ import annotations

import numpy as np

from qcompile import op_params
from qcompile.ir import Graph, Node
from qcompile.quant.converters import QUANT_CONVERTERS


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
    node.attrs = op_params.prelu_params(in_q, alpha_q, out_q)


@QUANT_CONVERTERS.register("global_avg_pool")
def _convert_global_avg_pool(graph: Graph, node: Node) -> None:
    """TFLite MEAN over H and W with its own output parameters (``reference.reduce.mean_params``)."""
    from qcompile.reference.reduce import mean_params

    x = graph.tensors[node.inputs[0]]
    attrs = mean_params(x.quant, graph.tensors[node.outputs[0]].quant, count=x.shape[1] * x.shape[2])
    node.op = "mean"
    node.attrs = {**attrs, "keep_dims": 1}
