"""quant/global_mean.py: a global average pool whose output is much narrower than its input is
quantized as MEAN with its own parameters (exactly the mean, within one output step); a
pool with a comparable range stays a pool sharing its input's parameters."""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph, Node, Tensor
from qcompile.quant.quantize import quantize
from qcompile.reference.executor import run_quantized


def _pool_graph() -> Graph:
    g = Graph("t")
    g.add_tensor(Tensor("x", (1, 6, 6, 4), source_name="x"))
    g.add_tensor(Tensor("y", (1, 1, 1, 4), source_name="y"))
    g.inputs, g.outputs = ["x"], ["y"]
    attrs = dict(kernel=(6, 6), strides=(1, 1), pads=(0, 0, 0, 0), act_range=(None, None))
    g.add_node(Node("pool", "avg_pool2d", ["x"], ["y"], attrs))
    return g


def test_narrow_pool_becomes_mean_with_its_own_scale() -> None:
    q = quantize(_pool_graph(), {"x": (-1.0, 8.0), "y": (-0.1, 0.9)})
    assert [n.op for n in q.nodes] == ["mean"]
    xq, yq = q.tensors["x"].quant, q.tensors["y"].quant
    assert yq.scalar_scale() < xq.scalar_scale() / 5
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (1, 6, 6, 4)).astype(np.int8)
    got = yq.dequantize(run_quantized(q, [x])["y"])
    want = np.clip(xq.dequantize(x).mean(axis=(1, 2), keepdims=True), yq.dequantize(-128), yq.dequantize(127))
    assert np.all(np.abs(got - want) <= yq.scalar_scale() * 0.51 + 1e-9)


def test_wide_pool_stays_a_pool() -> None:
    q = quantize(_pool_graph(), {"x": (-1.0, 8.0), "y": (-0.8, 6.0)})
    assert [n.op for n in q.nodes] == ["avg_pool2d"]
    assert q.tensors["y"].quant == q.tensors["x"].quant
