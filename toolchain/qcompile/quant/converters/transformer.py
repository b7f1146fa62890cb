"""int8 parameters of the attention ops: ``batch_matmul`` and ``layer_norm``
(docs/QUANTIZATION.md, "batch_matmul" and "layer_norm")."""

from __future__ import annotations

import math

import numpy as np

from qcompile import op_params
from qcompile.ir import Graph, Node, Tensor
from qcompile.quant.converters import QUANT_CONVERTERS
from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.kernels.transformer import NORM_BITS

I32_MAX = 2**31 - 1


def batch_matmul_params(s_a: float, zp_a: int, s_b: float, zp_b: int, s_out: float, zp_out: int) -> dict:
    """TFLite BATCH_MATMUL's ``Prepare``: offsets ``-zp`` of both operands and
    ``QuantizeMultiplier(double(s_a) * double(s_b) / double(s_out))`` from float32 scales."""
    f32 = np.float32
    m, e = quantize_multiplier(float(f32(s_a)) * float(f32(s_b)) / float(f32(s_out)))
    return {
        "lhs_offset": -int(zp_a),
        "rhs_offset": -int(zp_b),
        "output_offset": int(zp_out),
        "output_multiplier": int(m),
        "output_shift": int(e),
    }


def layer_norm_params(
    s_in: float, s_out: float, zp_out: int, gamma: np.ndarray, beta: np.ndarray, epsilon: float
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(int32 gamma, int32 beta, attrs) of an integer ``layer_norm`` over C channels.

    The kernel's ``t = D / sqrt(W)`` is the normalised value divided by sqrt(C), in Q15, so
    ``gamma_q[j] = round(gamma[j] sqrt(C) / s_out * 2^(S - 15))`` and
    ``beta_q[j] = round(beta[j] / s_out * 2^S)`` with the largest ``S`` in [1, 46] that keeps
    both in int32; ``eps = round(epsilon * C^2 / s_in^2)`` (clamped to int32)."""
    gamma = np.asarray(gamma, dtype=np.float64).reshape(-1)
    beta = np.asarray(beta, dtype=np.float64).reshape(-1)
    c = gamma.size
    g_real = gamma * math.sqrt(c) / float(s_out) / 2.0**NORM_BITS
    b_real = beta / float(s_out)
    for shift in range(46, 0, -1):
        gq = np.round(g_real * 2.0**shift)
        bq = np.round(b_real * 2.0**shift)
        if np.all(np.abs(gq) <= I32_MAX) and np.all(np.abs(bq) <= I32_MAX):
            break
    else:
        raise ValueError("layer_norm gamma/beta are too large for the output scale")
    eps = min(round(float(epsilon) * c * c / float(s_in) ** 2), I32_MAX)
    attrs = {"eps": int(eps), "out_shift": shift, "output_offset": int(zp_out)}
    return gq.astype(np.int32), bq.astype(np.int32), attrs


def _add_int32(graph: Graph, base: str, data: np.ndarray) -> str:
    name = graph.unique_name(base)
    graph.add_tensor(Tensor(name, tuple(data.shape), "int32", np.ascontiguousarray(data, dtype=np.int32)))
    return name


@QUANT_CONVERTERS.register("batch_matmul")
def _convert_batch_matmul(graph: Graph, node: Node) -> None:
    qa, qb = graph.tensors[node.inputs[0]].quant, graph.tensors[node.inputs[1]].quant
    qo = graph.tensors[node.outputs[0]].quant
    if graph.tensors[node.inputs[0]].is_constant or graph.tensors[node.inputs[1]].is_constant:
        raise ValueError("batch_matmul operands must be activations (constant weights are fully_connected)")
    params = batch_matmul_params(
        qa.scalar_scale(), qa.scalar_zero_point(), qb.scalar_scale(), qb.scalar_zero_point(),
        qo.scalar_scale(), qo.scalar_zero_point(),
    )  # fmt: skip
    act_min, act_max = op_params.activation_bounds(tuple(node.attrs.get("act_range", (None, None))), qo)
    node.attrs = {"adj_x": int(node.attrs.get("adj_x", 0)), "adj_y": int(node.attrs.get("adj_y", 0))}
    node.attrs.update(params, act_min=act_min, act_max=act_max)


@QUANT_CONVERTERS.register("layer_norm")
def _convert_layer_norm(graph: Graph, node: Node) -> None:
    x, g_name, b_name = node.inputs
    qi, qo = graph.tensors[x].quant, graph.tensors[node.outputs[0]].quant
    gamma, beta = graph.tensors[g_name].data, graph.tensors[b_name].data
    gq, bq, attrs = layer_norm_params(
        qi.scalar_scale(), qo.scalar_scale(), qo.scalar_zero_point(), gamma, beta, float(node.attrs["epsilon"])
    )
    node.inputs = [x, _add_int32(graph, f"{g_name}_lnq", gq), _add_int32(graph, f"{b_name}_lnq", bq)]
    node.attrs = attrs | {"act_min": -128, "act_max": 127}
