"""int8 forms of the reductions, gather, resizes and the transposed convolution.

``reduce_mean`` and ``reduce_sum`` become ``reduce_sum`` (TFLM's QuantizedMeanOrSum: the
mean's 1/count folded into the multiplier). ``reduce_max``, ``gather`` and the resizes move
or select int8 values (bilinear blends raw values with weights summing to 1), so their
output shares the input's parameters. ``transpose_conv2d`` is quantized like conv2d."""

from __future__ import annotations

import math

from qcompile.ir import Graph, Node
from qcompile.quant.converters import QUANT_CONVERTERS
from qcompile.reference.kernels.reduce_axes import reduce_sum_params


@QUANT_CONVERTERS.register("reduce_mean", "reduce_sum")
def _reduce_sum(graph: Graph, node: Node) -> None:
    x = graph.tensors[node.inputs[0]]
    axes = tuple(int(a) for a in node.attrs["axes"])
    count = math.prod(x.shape[a] for a in axes)
    in_q, out_q = x.quant, graph.tensors[node.outputs[0]].quant
    params = reduce_sum_params(in_q, out_q, count=count, mean=node.op == "reduce_mean")
    node.op = "reduce_sum"
    node.attrs = {"axes": axes, "keep_dims": int(node.attrs["keep_dims"]), **params}


@QUANT_CONVERTERS.register("reduce_max", "gather", "resize_nearest", "resize_bilinear", shares_input_params=True)
def _keep(graph: Graph, node: Node) -> None:
    """int8 in, int8 out with the same parameters: the attributes stay as they are."""


@QUANT_CONVERTERS.register("transpose_conv2d", weight_axis=0)
def _transpose_conv(graph: Graph, node: Node) -> None:  # pragma: no cover - weight_axis routes it
    raise AssertionError("quantize converts weighted ops itself")
