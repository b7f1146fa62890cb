"""Graph passes on hand-built float IR: each rewrite keeps the float result and does what it says."""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph, Node, Tensor
from qcompile.passes import optimize
from qcompile.passes.float_ir import fold_batchnorm, fold_bias_add, fold_pad, fuse_activation, remove_identity
from qcompile.reference.executor import run_float

RNG = np.random.default_rng(7)


def _act(g: Graph, name: str, shape: tuple[int, ...]) -> str:
    g.add_tensor(Tensor(name, shape, source_name=name))
    return name


def _conv_graph() -> tuple[Graph, np.ndarray]:
    g = Graph("t")
    g.inputs = [_act(g, "x", (1, 5, 5, 3))]
    w = g.add_constant("w", RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)).name
    _act(g, "c", (1, 5, 5, 4))
    attrs = dict(strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1, act_range=(None, None))
    g.add_node(Node("conv", "conv2d", ["x", w], ["c"], attrs))
    return g, RNG.normal(size=(1, 5, 5, 3)).astype(np.float32)


def _same(before: Graph, after: Graph, x: np.ndarray) -> None:
    a = run_float(before, {"x": x})[before.outputs[0]]
    b = run_float(after, {"x": x})[after.outputs[0]]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_fold_bn_affine_and_bias_and_relu() -> None:
    g, x = _conv_graph()
    s = g.add_constant("s", RNG.uniform(0.5, 2, (1, 1, 4)).astype(np.float32)).name
    t = g.add_constant("t", RNG.normal(size=4).astype(np.float32)).name
    dw = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), depth_multiplier=1, act_range=(None, None))
    g.add_node(Node("bn", "depthwise_conv2d", ["c", s, t], [_act(g, "n", (1, 5, 5, 4))], dw))
    k = g.add_constant("k", RNG.normal(size=(1, 1, 1, 4)).astype(np.float32)).name
    g.add_node(Node("add", "add", ["n", k], [_act(g, "a", (1, 5, 5, 4))], {"act_range": (None, None)}))
    g.add_node(Node("relu", "elementwise", ["a"], [_act(g, "y", (1, 5, 5, 4))], {"fn": "relu"}))
    g.outputs = ["y"]
    before = g.copy()
    after = optimize(g)
    assert [n.op for n in after.nodes] == ["conv2d"]
    assert after.nodes[0].outputs == ["y"] and after.nodes[0].attrs["act_range"] == (0.0, None)
    _same(before, after, x)


def test_no_fusion_when_intermediate_is_shared_or_output() -> None:
    g, x = _conv_graph()
    g.add_node(Node("relu", "elementwise", ["c"], [_act(g, "y", (1, 5, 5, 4))], {"fn": "relu"}))
    g.outputs = ["y", "c"]
    fuse_activation.run(g)
    assert [n.op for n in g.nodes] == ["conv2d", "elementwise"]
    g.outputs = ["y"]
    k = g.add_constant("k", np.ones(4, np.float32)).name
    g.add_node(Node("add", "add", ["c", k], [_act(g, "z", (1, 5, 5, 4))], {"act_range": (None, None)}))
    g.outputs = ["y", "z"]
    fold_bias_add.run(g)
    fold_batchnorm.run(g)
    assert [n.op for n in g.nodes] == ["conv2d", "elementwise", "add"]


def test_clip_ranges_intersect_and_disjoint_not_fused() -> None:
    assert fuse_activation.intersect((0.0, None), (-1.0, 6.0)) == (0.0, 6.0)
    assert fuse_activation.intersect((0.0, 1.0), (2.0, 3.0)) is None


def test_fold_pad_into_conv_not_avgpool() -> None:
    g = Graph("t")
    g.inputs = [_act(g, "x", (1, 4, 4, 3))]
    pads = ((0, 0), (1, 0), (2, 1), (0, 0))
    g.add_node(Node("pad", "pad", ["x"], [_act(g, "p", (1, 5, 7, 3))], {"pads": pads, "value": 0.0}))
    w = g.add_constant("w", RNG.normal(size=(2, 3, 3, 3)).astype(np.float32)).name
    attrs = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0), groups=1, act_range=(None, None))
    g.add_node(Node("conv", "conv2d", ["p", w], [_act(g, "y", (1, 3, 5, 2))], attrs))
    g.add_node(Node("pad2", "pad", ["x"], [_act(g, "p2", (1, 5, 7, 3))], {"pads": pads, "value": 0.0}))
    pool = dict(kernel=(2, 2), strides=(1, 1), pads=(0, 0, 0, 0), act_range=(None, None))
    g.add_node(Node("pool", "avg_pool2d", ["p2"], [_act(g, "z", (1, 4, 6, 3))], pool))
    g.outputs = ["y", "z"]
    x = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    before = run_float(g.copy(), {"x": x})
    fold_pad.run(g)
    assert [n.op for n in g.nodes] == ["conv2d", "pad", "avg_pool2d"]
    assert g.nodes[0].attrs["pads"] == (1, 2, 0, 1)
    after = run_float(g, {"x": x})
    for k in ("y", "z"):
        np.testing.assert_allclose(before[k], after[k], rtol=1e-5, atol=1e-5)


def test_remove_identity_reshapes_and_merge_chains() -> None:
    g = Graph("t")
    g.inputs = [_act(g, "x", (1, 2, 3))]
    g.add_node(Node("r0", "reshape", ["x"], [_act(g, "a", (1, 2, 3))], {"shape": (1, 2, 3)}))
    g.add_node(Node("r1", "reshape", ["a"], [_act(g, "b", (6,))], {"shape": (6,)}))
    g.add_node(Node("r2", "reshape", ["b"], [_act(g, "c", (3, 2))], {"shape": (3, 2)}))
    g.add_node(Node("e", "elementwise", ["c"], [_act(g, "y", (3, 2))], {"fn": "tanh"}))
    g.outputs = ["y"]
    x = RNG.normal(size=(1, 2, 3)).astype(np.float32)
    before = run_float(g.copy(), {"x": x})["y"]
    remove_identity.run(g)
    assert [n.op for n in g.nodes] == ["reshape", "elementwise"]
    np.testing.assert_array_equal(run_float(g, {"x": x})["y"], before)
