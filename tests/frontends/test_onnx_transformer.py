"""ONNX attention ops: MatMul of two activations, LayerNormalization (opset 17) and its
decomposed form, GELU (opset 20 op, Erf form, tanh form) recognised as one node each
(frontends/onnx_fusions.py); every import is checked against onnxruntime."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from frontends.test_onnx_import import _init, check, make_model, ops
from onnx import helper

from qcompile.frontends.onnx_fusions import fuse_patterns

RNG = np.random.default_rng(7)
C = 8


def _scalar(name: str, value: float) -> onnx.TensorProto:
    return _init(name, np.array(value, np.float32))


def decomposed_layer_norm(square: str = "pow", affine: bool = True, opset: int = 13) -> onnx.ModelProto:
    axes = {"axes": [-1]}
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], **axes),
        helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["p"]) if square == "pow" else helper.make_node("Mul", ["d", "d"], ["p"]),
        helper.make_node("ReduceMean", ["p"], ["v"], **axes),
        helper.make_node("Add", ["v", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["s"]),
        helper.make_node("Div", ["d", "s"], ["n" if affine else "y"]),
    ]
    inits = [_scalar("two", 2.0), _scalar("eps", 1e-5)]
    if affine:
        nodes += [helper.make_node("Identity", ["g0"], ["g"]), helper.make_node("Mul", ["n", "g"], ["nb"])]
        nodes += [helper.make_node("Add", ["nb", "b"], ["y"])]
        inits += [
            _init("g0", RNG.uniform(0.5, 2, C).astype(np.float32)),
            _init("b", RNG.normal(size=C).astype(np.float32)),
        ]
    return make_model(nodes, [("x", [1, 5, C])], ["y"], inits, opset=opset)


@pytest.mark.parametrize("square", ["pow", "mul"])
@pytest.mark.parametrize("affine", [True, False])
def test_decomposed_layer_norm_is_one_node(tmp_path: Path, square: str, affine: bool) -> None:
    graph = check(decomposed_layer_norm(square, affine), tmp_path)
    assert ops(graph) == ["layer_norm"]


def test_a_chain_read_elsewhere_is_not_fused() -> None:
    model = decomposed_layer_norm()
    model.graph.output.append(helper.make_tensor_value_info("d", onnx.TensorProto.FLOAT, None))
    assert fuse_patterns(model) is model


@pytest.mark.parametrize("axis,bias", [(-1, True), (2, False), (-2, True)])
def test_layer_normalization_op(tmp_path: Path, axis: int, bias: bool) -> None:
    shape = [1, 3, 4, C]
    inner = shape[axis:]
    inits = [_init("g", RNG.uniform(0.5, 2, inner).astype(np.float32))]
    ins = ["x", "g"]
    if bias:
        inits.append(_init("b", RNG.normal(size=inner).astype(np.float32)))
        ins.append("b")
    node = helper.make_node("LayerNormalization", ins, ["y"], axis=axis, epsilon=1e-3)
    graph = check(make_model([node], [("x", shape)], ["y"], inits, opset=17), tmp_path)
    assert "layer_norm" in ops(graph)


def _gelu_tail(x: str, a: str, order: str) -> list[onnx.NodeProto]:
    if order == "x_first":
        return [helper.make_node("Mul", [x, a], ["xa"]), helper.make_node("Mul", ["xa", "half"], ["y"])]
    return [helper.make_node("Mul", [a, "half"], ["ah"]), helper.make_node("Mul", ["ah", x], ["y"])]


@pytest.mark.parametrize("order", ["x_first", "half_first"])
@pytest.mark.parametrize("pre", ["div", "mul"])
def test_erf_gelu_is_one_table(tmp_path: Path, order: str, pre: str) -> None:
    if pre == "div":
        first = helper.make_node("Div", ["x", "c"], ["u"])
        c = _scalar("c", math.sqrt(2.0))
    else:
        first = helper.make_node("Mul", ["x", "c"], ["u"])
        c = _scalar("c", 1 / math.sqrt(2.0))
    nodes = [first, helper.make_node("Erf", ["u"], ["e"]), helper.make_node("Add", ["e", "one"], ["a"])]
    nodes += _gelu_tail("x", "a", order)
    model = make_model(nodes, [("x", [1, 6, C])], ["y"], [c, _scalar("one", 1.0), _scalar("half", 0.5)])
    graph = check(model, tmp_path)
    assert ops(graph) == ["elementwise"] and graph.nodes[0].attrs["fn"] == "gelu"


@pytest.mark.parametrize("cube", ["pow", "mul"])
def test_tanh_gelu_is_one_table(tmp_path: Path, cube: str) -> None:
    if cube == "pow":
        nodes = [helper.make_node("Pow", ["x", "three"], ["x3"])]
    else:
        nodes = [helper.make_node("Mul", ["x", "x"], ["x2"]), helper.make_node("Mul", ["x", "x2"], ["x3"])]
    nodes += [
        helper.make_node("Mul", ["k", "x3"], ["kx3"]),
        helper.make_node("Add", ["x", "kx3"], ["inner"]),
        helper.make_node("Mul", ["inner", "s"], ["u"]),
        helper.make_node("Tanh", ["u"], ["t"]),
        helper.make_node("Add", ["t", "one"], ["a"]),
        *_gelu_tail("x", "a", "x_first"),
    ]
    inits = [_scalar("three", 3.0), _scalar("k", 0.044715), _scalar("s", math.sqrt(2 / math.pi))]
    inits += [_scalar("one", 1.0), _scalar("half", 0.5)]
    graph = check(make_model(nodes, [("x", [1, 6, C])], ["y"], inits), tmp_path)
    assert ops(graph) == ["elementwise"] and graph.nodes[0].attrs == {"fn": "gelu", "approximate": "tanh"}


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_op(tmp_path: Path, approximate: str) -> None:
    node = helper.make_node("Gelu", ["x"], ["y"], approximate=approximate)
    graph = check(make_model([node], [("x", [1, 6, C])], ["y"], opset=20), tmp_path)
    assert ops(graph) == ["elementwise"]


def test_attention_matmuls(tmp_path: Path) -> None:
    """Q K^T with K transposed by an ONNX Transpose reads K with adj_y (no data movement);
    a broadcast batch dim on the second operand."""
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "c"], ["sc"]),
        helper.make_node("Softmax", ["sc"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    inputs = [("q", [1, 2, 5, 4]), ("k", [1, 2, 5, 4]), ("v", [1, 1, 5, 3])]
    graph = check(make_model(nodes, inputs, ["y"], [_scalar("c", 0.5)]), tmp_path, input_layout="nchw")
    mm = [n for n in graph.nodes if n.op == "batch_matmul"]
    assert [(n.attrs["adj_x"], n.attrs["adj_y"]) for n in mm] == [(0, 1), (0, 0)]
    assert ops(graph) == ["batch_matmul", "softmax", "batch_matmul"]  # the scale is the softmax's beta
    assert graph.nodes[1].attrs["beta"] == 0.5


def test_inspect_marks_recognised_chains_supported(tmp_path: Path) -> None:
    from qcompile.tools.inspect import describe

    onnx.save(decomposed_layer_norm(), tmp_path / "ln.onnx")
    rows = describe(tmp_path / "ln.onnx")
    assert {r["op_type"] for r in rows} >= {"ReduceMean", "Sqrt", "Div"}
    assert all(r["supported"] for r in rows)
