"""Empirical bias correction: fold each layer's mean int8 output error into its bias.

Rounding weights to int8 shifts a layer's expected output: ``E[W_q x] != E[W x]`` per
output channel, and the shift adds up through the network (Nagel et al., "Data-Free
Quantization", 2019, empirical variant). Layer by layer in graph order, the int8
reference runs the (already corrected) layers before, and for each conv/depthwise/FC
the per-channel mean of (int8 pre-activation - float pre-activation) over the samples
is subtracted from its int32 bias. The int8 pre-activation is the accumulator
``in_scale * w_scale * (sum (x - zp) * w + bias)``, computed exactly from dequantized
values, so clipping by the fused ReLU and the requantization rounding, which do not
depend on the bias, stay out of the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qcompile.ir import Graph, Node, round_half_away
from qcompile.progress import progress_bar
from qcompile.quant.layerwise import float_activations, ir_sample_inputs, linear_attrs
from qcompile.quant.quantize import WEIGHT_AXIS
from qcompile.reference.executor import kernel, run_quantized_node

MAX_SAMPLES = 32


def correct_biases(
    float_graph: Graph,
    qgraph: Graph,
    data: Mapping[str, np.ndarray],
    *,
    max_samples: int = MAX_SAMPLES,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Correct ``qgraph``'s conv/depthwise/FC biases in place; returns the mean output
    error removed per layer (``{node name: per-channel error}``, real units).

    ``qgraph`` is ``quantize(float_graph, ...)`` before any quantized-graph pass: nodes
    and activation tensors carry the same names in both."""
    samples = ir_sample_inputs(float_graph, data, max_samples)
    fvals = float_activations(float_graph, samples)
    qvals = [{n: qgraph.tensors[n].quant.quantize(s[n]) for n in qgraph.inputs} for s in samples]
    fnodes = {n.name: n for n in float_graph.nodes}
    removed: dict[str, np.ndarray] = {}
    with progress_bar(progress, len(qgraph.nodes), "bias correction") as advance:
        for node in qgraph.nodes:
            if node.op in WEIGHT_AXIS:
                removed[node.name] = _correct_node(float_graph, qgraph, fnodes[node.name], node, fvals, qvals)
            for values in qvals:  # the 16x8 kernel for an int16 input, as the executor picks it
                values.update(zip(node.outputs, run_quantized_node(qgraph, node, values), strict=True))
            advance()
    return removed


def _correct_node(
    float_graph: Graph,
    qgraph: Graph,
    fnode: Node,
    qnode: Node,
    fvals: list[dict[str, np.ndarray]],
    qvals: list[dict[str, np.ndarray]],
) -> np.ndarray:
    """Subtract the mean pre-activation error of ``qnode`` from its int32 bias."""
    run = kernel(fnode.op, quantized=False)
    attrs = linear_attrs(fnode)
    x_name = qnode.inputs[0]
    w_t, b_t = qgraph.tensors[qnode.inputs[1]], qgraph.tensors[qnode.inputs[2]]
    w_deq, b_deq = w_t.quant.dequantize(w_t.data), b_t.quant.dequantize(b_t.data)
    fw = float_graph.tensors[fnode.inputs[1]].data.astype(np.float64)
    fb_name = fnode.inputs[2] if len(fnode.inputs) > 2 else None
    fb = float_graph.tensors[fb_name].data.astype(np.float64) if fb_name else None
    x_q = qgraph.tensors[x_name].quant
    errors = []
    for fv, qv in zip(fvals, qvals, strict=True):
        y_int8 = run(x_q.dequantize(qv[x_name]), w_deq, b_deq, **attrs)
        y_float = run(fv[_float_name(qgraph, x_name)].astype(np.float64), fw, fb, **attrs)
        errors.append((y_int8 - y_float).reshape(-1, y_float.shape[-1]).mean(axis=0))
    error = np.mean(errors, axis=0)
    bias_scale = b_t.quant.scale
    step = round_half_away(error / bias_scale)
    info = np.iinfo(b_t.data.dtype)  # int32, or int64 for a 16x8 layer
    b_t.data = np.clip(b_t.data.astype(np.float64) - step, info.min, info.max).astype(b_t.data.dtype)
    return error


def _float_name(qgraph: Graph, name: str) -> str:
    """The float IR tensor a quantized activation holds: a requantize (int8 <-> int16, mixed
    precision) makes a new tensor from an existing one."""
    producer = qgraph.producer(name)
    while producer is not None and producer.op == "requantize":
        name = producer.inputs[0]
        producer = qgraph.producer(name)
    return name
