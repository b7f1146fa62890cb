"""Quantized single-layer graphs for the MVE kernel tests (host and QEMU): the DSP tests'
builders plus a fused residual ADD's attributes and a graph of requantisation edges."""

from __future__ import annotations

import dataclasses

import numpy as np
from codegen_graphs import _act, _const
from test_dsp_kernels import _check as check_on_host
from test_dsp_kernels import _conv_graph as conv_graph
from test_dsp_kernels import _dw_graph as dw_graph
from test_dsp_kernels import _fc_graph as fc_graph

from qcompile.ir import Graph, Node, QuantParams
from qcompile.op_params import add_params

__all__ = [
    "add_attrs",
    "check_on_host",
    "conv_add_graph",
    "conv_graph",
    "dw_graph",
    "fc_graph",
    "merge",
    "requant_edges_graph",
]


def add_attrs(rng: np.random.Generator, operand: int, *, subtract: bool = False) -> dict:
    """``add_*`` attributes of a conv2d_add whose conv result (scale 0.1, as conv_graph's output)
    is add input ``operand``, the residual (scale 0.07, zero point 5) the other one."""
    conv_q = QuantParams(0.1, int(rng.integers(-20, 20)))
    res_q = QuantParams(0.07, 5)
    out_q = QuantParams(float(rng.uniform(0.08, 0.2)), int(rng.integers(-10, 10)))
    ins = (conv_q, res_q) if operand == 1 else (res_q, conv_q)
    params = add_params(*ins, out_q, act_min=-128, act_max=int(rng.integers(60, 128)), subtract=subtract)
    return {f"add_{k}": v for k, v in params.items()} | {"add_conv_operand": operand}


def conv_add_graph(seed: int, hw: tuple[int, int], c: int, oc: int, operand: int, subtract: bool) -> Graph:
    """A 3x3 'same' conv2d_add: conv_graph's conv with a residual input ``r`` added in its epilogue."""
    g = conv_graph(seed, *hw, c, oc, (3, 3), 1, 1, False)
    r = _act(g, "r", (1, *hw, oc), 0.07, 5)
    node = g.nodes[0]
    node.op = "conv2d_add"
    node.inputs.append(r)
    node.attrs.update(add_attrs(np.random.default_rng(seed), operand, subtract=subtract))
    g.inputs = [g.inputs[0], r]
    g.validate()
    return g


def merge(name: str, graphs: list[Graph]) -> Graph:
    """Independent graphs side by side in one (names prefixed ``g<i>_``): one build and one
    QEMU boot checks them all."""
    merged = Graph(name)
    for i, g in enumerate(graphs):
        rename = {t: f"g{i}_{t}" for t in g.tensors}
        for t in g.tensors.values():
            merged.add_tensor(dataclasses.replace(t, name=rename[t.name]))
        for node in g.nodes:
            inputs, outputs = [rename[t] for t in node.inputs], [rename[t] for t in node.outputs]
            merged.add_node(dataclasses.replace(node, name=f"g{i}_{node.name}", inputs=inputs, outputs=outputs))
        merged.inputs += [rename[t] for t in g.inputs]
        merged.outputs += [rename[t] for t in g.outputs]
    merged.validate()
    return merged


def _edge_channels(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accumulator, multiplier, shift) per channel, each result inside int8: exact ties of the
    final rounding at every right shift, left shifts, accumulators at the int32 extremes."""
    rows = [((2 * t + 1) << e, 1 << 30, -e) for e in range(1, 25) for t in range(-6, 6)]
    rows += [(int(a), int(rng.integers(1 << 30, 2**31 - 1)), s) for s in range(1, 6) for a in (-3, -1, 1, 2)]
    rows += [(a, m, -24) for a in (-(2**31), 2**31 - 1, -(2**30) - 1, 2**30 + 1) for m in (1 << 30, 2**31 - 1)]
    rows += [(0, 1 << 30, 0), (-5, 2**31 - 1, 0), (77, 1 << 30, 1)]
    acc, mult, shift = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    return acc, mult, shift


def requant_edges_graph() -> Graph:
    """A 1x1 conv with zero weights: every output channel is requant(bias) for its own
    multiplier and shift, so one pixel checks hundreds of requantisation edges."""
    acc, mult, shift = _edge_channels(np.random.default_rng(11))
    oc = acc.size
    g = Graph("mveedges")
    x = _act(g, "x", (1, 1, 2, 1), 0.05, 3)
    y = _act(g, "y", (1, 1, 2, oc), 0.1, 0)
    w = _const(g, "w", np.zeros((oc, 1, 1, 1), dtype=np.int8))
    b = _const(g, "b", acc.astype(np.int32))
    attrs = {
        "strides": (1, 1),
        "dilations": (1, 1),
        "pads": (0, 0, 0, 0),
        "groups": 1,
        "input_offset": -3,
        "output_offset": 0,
        "multiplier": mult,
        "shift": shift,
        "act_min": -128,
        "act_max": 127,
    }
    g.add_node(Node("conv", "conv2d", [x, w, b], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g
