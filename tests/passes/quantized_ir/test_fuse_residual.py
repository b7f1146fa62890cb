"""fuse_residual: a conv2d feeding only an add becomes conv2d_add with identical results;
no fusion when the conv output has another reader or is a graph output; in a
downsampling block the main-branch conv is the one fused."""

from __future__ import annotations

from typing import Any

import numpy as np

from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.op_params import add_params
from qcompile.passes.quantized_ir import fuse_residual
from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.executor import run_quantized

_Q = QuantParams(0.05, -3)


def _conv_attrs(oc: int, k: int, stride: int = 1) -> dict[str, Any]:
    m, s = quantize_multiplier(0.004)
    p = k // 2
    return dict(
        strides=(stride, stride), dilations=(1, 1), pads=(p, p, p, p), groups=1, input_offset=3,
        output_offset=-3, multiplier=np.full(oc, m, np.int32), shift=np.full(oc, s, np.int32),
        act_min=-128, act_max=127,
    )  # fmt: skip


def _act(g: Graph, name: str, shape: tuple[int, ...]) -> None:
    g.add_tensor(Tensor(name, shape, "int8", quant=_Q))


def _conv(g: Graph, name: str, x: str, y: str, oc: int, k: int, rng: np.random.Generator, stride: int = 1) -> None:
    c = g.tensors[x].shape[3]
    w = g.add_constant(f"{name}_w", rng.integers(-127, 128, size=(oc, k, k, c), dtype=np.int8)).name
    b = g.add_constant(f"{name}_b", rng.integers(-999, 999, size=oc).astype(np.int32)).name
    g.add_node(Node(name, "conv2d", [x, w, b], [y], _conv_attrs(oc, k, stride)))


def _block(extra_reader: bool = False, conv_is_output: bool = False) -> Graph:
    rng = np.random.default_rng(0)
    g = Graph("block")
    for name in ("x", "a", "b", "y"):
        _act(g, name, (1, 6, 6, 4))
    g.inputs = ["x"]
    _conv(g, "c1", "x", "a", 4, 3, rng)
    _conv(g, "c2", "a", "b", 4, 3, rng)
    g.add_node(Node("add", "add", ["x", "b"], ["y"], add_params(_Q, _Q, _Q, act_min=-128, act_max=127)))
    g.outputs = ["y"]
    if extra_reader:
        _act(g, "z", (1, 6, 6, 4))
        g.add_node(Node("l", "lut", ["b"], ["z"], {"table": np.arange(-128, 128, dtype=np.int8)}))
        g.outputs.append("z")
    if conv_is_output:
        g.outputs.append("b")
    return g


def test_fuses_and_keeps_results() -> None:
    g = _block()
    x = np.random.default_rng(1).integers(-128, 128, size=(1, 6, 6, 4), dtype=np.int8)
    expected = run_quantized(g, [x])["y"]
    fused = fuse_residual.run(g.copy())
    assert [n.op for n in fused.nodes] == ["conv2d", "conv2d_add"]
    node = fused.nodes[1]
    assert node.inputs[0] == "a" and node.inputs[3] == "x" and node.attrs["add_conv_operand"] == 2
    assert "b" not in fused.tensors
    np.testing.assert_array_equal(run_quantized(fused, [x])["y"], expected)


def test_no_fusion_when_the_conv_output_is_read_elsewhere() -> None:
    for g in (_block(extra_reader=True), _block(conv_is_output=True)):
        assert "conv2d_add" not in [n.op for n in fuse_residual.run(g).nodes]


def test_downsampling_block_fuses_the_main_branch() -> None:
    rng = np.random.default_rng(3)
    g = Graph("down")
    _act(g, "x", (1, 8, 8, 4))
    for name in ("a", "b", "s", "y"):
        _act(g, name, (1, 4, 4, 8))
    g.inputs = ["x"]
    _conv(g, "main1", "x", "a", 8, 3, rng, stride=2)
    _conv(g, "main2", "a", "b", 8, 3, rng)
    _conv(g, "short", "x", "s", 8, 1, rng, stride=2)
    g.add_node(Node("add", "add", ["s", "b"], ["y"], add_params(_Q, _Q, _Q, act_min=-128, act_max=127)))
    g.outputs = ["y"]
    x = rng.integers(-128, 128, size=(1, 8, 8, 4), dtype=np.int8)
    expected = run_quantized(g, [x])["y"]
    fused = fuse_residual.run(g.copy())
    (node,) = [n for n in fused.nodes if n.op == "conv2d_add"]
    assert node.inputs[0] == "a" and node.inputs[3] == "s"
    np.testing.assert_array_equal(run_quantized(fused, [x])["y"], expected)
