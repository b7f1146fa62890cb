"""ONNX import: every supported op, on tiny NCHW models at several opsets, must mean in the
float IR (run by the float reference) what onnxruntime computes; plus layout, errors and
the MLPerf models end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx
from qcompile.ir import Graph
from qcompile.reference.executor import run_float

RNG = np.random.default_rng(1234)


def _init(name: str, data: np.ndarray) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(np.asarray(data), name)


def make_model(nodes, inputs, outputs, inits=(), opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        list(inits),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def check(model: onnx.ModelProto, tmp_path: Path, *, input_layout: str = "nhwc", optimize: bool = True) -> Graph:
    """Import, run both, compare every output (in source layout) within ~1e-4 relative."""
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    graph = load_onnx(path, input_layout=input_layout, optimize=optimize)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {
        i.name: RNG.normal(size=[d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
        for i in sess.get_inputs()
    }
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))
    phys = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        phys[name] = feeds[t.source_name].transpose(t.source_perm)
    got = run_float(graph, phys)
    assert len(graph.outputs) == len(ref)
    for name in graph.outputs:
        t = graph.tensors[name]
        expected = ref[t.source_name].transpose(t.source_perm)
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(got[name], expected, atol=1e-4 * scale, rtol=1e-4)
    return graph


def ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def conv(x: str, y: str, w: str, b: str | None = None, **attrs) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, w] + ([b] if b else []), [y], **attrs)


# --- Conv ---------------------------------------------------------------------------------
@pytest.mark.parametrize("opset", [11, 13, 17, 21])
@pytest.mark.parametrize(
    "attrs",
    [
        dict(pads=[1, 1, 1, 1]),
        dict(pads=[0, 1, 2, 0], strides=[2, 1]),
        dict(pads=[2, 2, 2, 2], dilations=[2, 2]),
        dict(auto_pad="SAME_UPPER", strides=[2, 2]),
        dict(auto_pad="SAME_LOWER", strides=[2, 2]),
        dict(auto_pad="VALID"),
    ],
)
def test_conv_dense(tmp_path: Path, opset: int, attrs: dict) -> None:
    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    m = make_model(
        [conv("x", "y", "w", "b", **attrs)], [("x", [1, 3, 9, 8])], ["y"], [_init("w", w), _init("b", b)], opset
    )
    g = check(m, tmp_path)
    assert ops(g) == ["conv2d"]
    assert g.tensors[g.outputs[0]].source_perm == (0, 2, 3, 1)


@pytest.mark.parametrize("mult", [1, 2])
def test_conv_depthwise(tmp_path: Path, mult: int) -> None:
    w = RNG.normal(size=(4 * mult, 1, 3, 3)).astype(np.float32)
    m = make_model([conv("x", "y", "w", group=4, pads=[1, 1, 1, 1])], [("x", [1, 4, 6, 6])], ["y"], [_init("w", w)], 11)
    g = check(m, tmp_path)
    assert ops(g) == ["depthwise_conv2d"]
    assert g.nodes[0].attrs["depth_multiplier"] == mult
    assert g.tensors[g.nodes[0].inputs[1]].shape == (3, 3, 4 * mult)


def test_conv_grouped(tmp_path: Path) -> None:
    w = RNG.normal(size=(6, 2, 3, 3)).astype(np.float32)
    m = make_model([conv("x", "y", "w", group=2)], [("x", [1, 4, 6, 6])], ["y"], [_init("w", w)])
    g = check(m, tmp_path)
    assert ops(g) == ["conv2d"] and g.nodes[0].attrs["groups"] == 2


# --- BatchNorm, activations ----------------------------------------------------------------
def _bn_inits(c: int, prefix: str = "bn") -> list:
    return [
        _init(f"{prefix}_s", RNG.uniform(0.5, 2, c).astype(np.float32)),
        _init(f"{prefix}_b", RNG.normal(size=c).astype(np.float32)),
        _init(f"{prefix}_m", RNG.normal(size=c).astype(np.float32)),
        _init(f"{prefix}_v", RNG.uniform(0.5, 2, c).astype(np.float32)),
    ]


def _bn(x: str, y: str, prefix: str = "bn") -> onnx.NodeProto:
    return helper.make_node("BatchNormalization", [x] + [f"{prefix}_{k}" for k in "sbmv"], [y], epsilon=1e-3)


@pytest.mark.parametrize("opset", [11, 15])
def test_conv_bn_relu_folds_to_one_conv(tmp_path: Path, opset: int) -> None:
    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    nodes = [conv("x", "c", "w"), _bn("c", "n"), helper.make_node("Relu", ["n"], ["y"])]
    m = make_model(nodes, [("x", [1, 3, 6, 6])], ["y"], [_init("w", w)] + _bn_inits(4), opset)
    g = check(m, tmp_path)
    assert ops(g) == ["conv2d"]
    assert g.nodes[0].attrs["act_range"] == (0.0, None)
    assert g.tensors[g.outputs[0]].source_name == "y"


@pytest.mark.parametrize("shape", [[1, 4, 5, 5], [2, 4], [1, 4, 7]])
def test_standalone_batchnorm(tmp_path: Path, shape: list[int]) -> None:
    m = make_model([_bn("x", "y")], [("x", shape)], ["y"], _bn_inits(4))
    g = check(m, tmp_path)
    assert "depthwise_conv2d" in ops(g)


@pytest.mark.parametrize(
    "node,opset",
    [
        (helper.make_node("Relu", ["x"], ["y"]), 13),
        (helper.make_node("Sigmoid", ["x"], ["y"]), 13),
        (helper.make_node("Tanh", ["x"], ["y"]), 13),
        (helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.2), 13),
        (helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4), 13),
        (helper.make_node("HardSwish", ["x"], ["y"]), 14),
        (helper.make_node("Clip", ["x", "lo", "hi"], ["y"]), 11),
        (helper.make_node("Clip", ["x", "", "hi"], ["y"]), 13),
        (helper.make_node("Clip", ["x", "lo"], ["y"]), 21),
    ],
)
def test_unary(tmp_path: Path, node: onnx.NodeProto, opset: int) -> None:
    inits = [_init("lo", np.array(-0.5, np.float32)), _init("hi", np.array(0.7, np.float32))]
    m = make_model([node], [("x", [1, 3, 4, 4])], ["y"], inits, opset)
    g = check(m, tmp_path, optimize=False)
    assert ops(g) == ["elementwise"]


def test_relu6_fuses_into_conv(tmp_path: Path) -> None:
    w = RNG.normal(size=(4, 3, 1, 1)).astype(np.float32) * 4
    nodes = [conv("x", "c", "w"), helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    inits = [_init("w", w), _init("lo", np.array(0, np.float32)), _init("hi", np.array(6, np.float32))]
    g = check(make_model(nodes, [("x", [1, 3, 4, 4])], ["y"], inits, 12), tmp_path)
    assert ops(g) == ["conv2d"] and g.nodes[0].attrs["act_range"] == (0.0, 6.0)


# --- binary -------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
def test_binary_residual(tmp_path: Path, op: str) -> None:
    w = RNG.normal(size=(3, 3, 1, 1)).astype(np.float32)
    nodes = [conv("x", "c", "w"), helper.make_node(op, ["c", "x"], ["y"])]
    g = check(make_model(nodes, [("x", [1, 3, 4, 4])], ["y"], [_init("w", w)]), tmp_path)
    assert "transpose" not in ops(g)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("cshape", [[], [3, 1, 1], [1, 3, 4, 4], [4]])
def test_binary_constant(tmp_path: Path, op: str, cshape: list[int]) -> None:
    c = RNG.uniform(0.5, 2, cshape).astype(np.float32)
    nodes = [helper.make_node(op, ["x", "c"], ["y"])]
    g = check(make_model(nodes, [("x", [1, 3, 4, 4])], ["y"], [_init("c", c)]), tmp_path, optimize=False)
    if op in ("Mul", "Div") and not cshape:
        assert ops(g) == ["elementwise"] and g.nodes[0].attrs["fn"] == "scale"
    else:
        assert ops(g) == [{"Div": "mul"}.get(op, op.lower())]


def test_conv_add_bias_folds(tmp_path: Path) -> None:
    w = RNG.normal(size=(3, 3, 1, 1)).astype(np.float32)
    c = RNG.normal(size=(3, 1, 1)).astype(np.float32)
    nodes = [conv("x", "a", "w"), helper.make_node("Add", ["a", "c"], ["y"])]
    g = check(make_model(nodes, [("x", [1, 3, 4, 4])], ["y"], [_init("w", w), _init("c", c)]), tmp_path)
    assert ops(g) == ["conv2d"]


# --- pools --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "op,attrs",
    [
        ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
        ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
        ("MaxPool", dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER")),
        ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
        ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
        ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
        ("GlobalAveragePool", {}),
        ("GlobalMaxPool", {}),
    ],
)
def test_pools(tmp_path: Path, op: str, attrs: dict) -> None:
    g = check(make_model([helper.make_node(op, ["x"], ["y"], **attrs)], [("x", [1, 3, 7, 7])], ["y"]), tmp_path)
    if attrs.get("count_include_pad"):
        assert ops(g) == ["pad", "avg_pool2d"]


# --- shape ops and layout -------------------------------------------------------------------
def test_flatten_after_conv_needs_nchw_order(tmp_path: Path) -> None:
    w = RNG.normal(size=(4, 3, 1, 1)).astype(np.float32)
    fc = RNG.normal(size=(5, 4 * 9)).astype(np.float32)
    nodes = [
        conv("x", "c", "w"),
        helper.make_node("Flatten", ["c"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1),
    ]
    g = check(make_model(nodes, [("x", [1, 3, 3, 3])], ["y"], [_init("w", w), _init("fc", fc)]), tmp_path)
    assert "transpose" in ops(g)  # a real NCHW-order flatten cannot be free


def test_transpose_then_reshape_is_free(tmp_path: Path) -> None:
    """The tflite2onnx tail: AveragePool -> Transpose(0,2,3,1) -> Reshape -> Gemm -> Softmax."""
    w = RNG.normal(size=(4, 3, 1, 1)).astype(np.float32)
    fc = RNG.normal(size=(4, 5)).astype(np.float32)
    nodes = [
        conv("x", "c", "w"),
        helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[3, 3], auto_pad="VALID"),
        helper.make_node("Transpose", ["p"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["t", "shape"], ["r"]),
        helper.make_node("Gemm", ["r", "fc"], ["g"]),
        helper.make_node("Softmax", ["g"], ["y"], axis=-1),
    ]
    inits = [_init("w", w), _init("fc", fc), _init("shape", np.array([-1, 4], np.int64))]
    g = check(make_model(nodes, [("x", [1, 3, 3, 3])], ["y"], inits, 11), tmp_path)
    assert "transpose" not in ops(g)


def test_transpose_of_nhwc_activation_is_a_view(tmp_path: Path) -> None:
    w = RNG.normal(size=(4, 3, 1, 1)).astype(np.float32)
    nodes = [conv("x", "c", "w"), helper.make_node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 1])]
    g = check(make_model(nodes, [("x", [1, 3, 3, 5])], ["y"], [_init("w", w)]), tmp_path)
    assert ops(g) == ["conv2d"]  # the conv's NHWC output IS the transposed tensor
    assert g.tensors[g.outputs[0]].source_perm == (0, 1, 2, 3)


@pytest.mark.parametrize("opset", [11, 13])
def test_reshape_squeeze_unsqueeze(tmp_path: Path, opset: int) -> None:
    axes_in = opset >= 13
    nodes = [
        helper.make_node("Reshape", ["x", "s"], ["r"]),  # (2,3,4) -> (2,0=3,-1=4) -> (2,3,4,1) via next
        helper.make_node("Unsqueeze", ["r", "ax"] if axes_in else ["r"], ["u"], **({} if axes_in else {"axes": [0]})),
        helper.make_node("Squeeze", ["u", "ax"] if axes_in else ["u"], ["y"], **({} if axes_in else {"axes": [0]})),
    ]
    inits = [_init("s", np.array([0, -1, 2], np.int64)), _init("ax", np.array([0], np.int64))]
    check(make_model(nodes, [("x", [2, 3, 4])], ["y"], inits, opset), tmp_path)


@pytest.mark.parametrize("opset,axis", [(11, 1), (11, -1), (13, 1), (13, 2), (13, -1)])
def test_softmax_axis(tmp_path: Path, opset: int, axis: int) -> None:
    w = RNG.normal(size=(4, 3, 1, 1)).astype(np.float32)
    nodes = [conv("x", "c", "w"), helper.make_node("Softmax", ["c"], ["y"], axis=axis)]
    check(make_model(nodes, [("x", [1, 3, 2, 3])], ["y"], [_init("w", w)], opset), tmp_path)


def test_concat_channels(tmp_path: Path) -> None:
    w1 = RNG.normal(size=(2, 3, 1, 1)).astype(np.float32)
    w2 = RNG.normal(size=(3, 3, 3, 3)).astype(np.float32)
    nodes = [
        conv("x", "a", "w1"),
        conv("x", "b", "w2", pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["y"], axis=1),
    ]
    g = check(make_model(nodes, [("x", [1, 3, 4, 4])], ["y"], [_init("w1", w1), _init("w2", w2)]), tmp_path)
    cat = [n for n in g.nodes if n.op == "concat"][0]
    assert cat.attrs["axis"] == 3


@pytest.mark.parametrize("opset", [11, 18])
def test_pad_folds_into_conv(tmp_path: Path, opset: int) -> None:
    w = RNG.normal(size=(2, 3, 3, 3)).astype(np.float32)
    pad_in = ["x", "pads"] + (["", "axes"] if opset >= 18 else [])
    pads = [1, 2, 0, 1] if opset >= 18 else [0, 0, 1, 2, 0, 0, 0, 1]
    nodes = [helper.make_node("Pad", pad_in, ["p"]), conv("p", "y", "w")]
    inits = [_init("w", w), _init("pads", np.array(pads, np.int64)), _init("axes", np.array([2, 3], np.int64))]
    g = check(make_model(nodes, [("x", [1, 3, 5, 5])], ["y"], inits, opset), tmp_path)
    assert ops(g) == ["conv2d"] and g.nodes[0].attrs["pads"] == (1, 2, 0, 1)


def test_pad_nonzero_value_stays(tmp_path: Path) -> None:
    nodes = [helper.make_node("Pad", ["x", "pads", "v"], ["y"])]
    inits = [_init("pads", np.array([0, 1, 1, 0, 0, 0, 2, 1], np.int64)), _init("v", np.array(0.5, np.float32))]
    g = check(make_model(nodes, [("x", [1, 3, 4, 4])], ["y"], inits), tmp_path)
    assert ops(g) == ["pad"]


def test_gemm_variants_and_matmul_add(tmp_path: Path) -> None:
    b1 = RNG.normal(size=(6, 5)).astype(np.float32)
    c1 = RNG.normal(size=(5,)).astype(np.float32)
    b2 = RNG.normal(size=(4, 5)).astype(np.float32)
    c2 = RNG.normal(size=(4,)).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "b1", "c1"], ["h"], alpha=0.5, beta=2.0),
        helper.make_node("Identity", ["h"], ["h2"]),
        helper.make_node("Dropout", ["h2"], ["h3"]),
        helper.make_node("MatMul", ["h3", "b2t"], ["m"]),
        helper.make_node("Add", ["m", "c2"], ["y"]),
    ]
    inits = [_init("b1", b1), _init("c1", c1), _init("b2t", b2.T.copy()), _init("c2", c2)]
    g = check(make_model(nodes, [("x", [3, 6])], ["y"], inits), tmp_path)
    assert ops(g) == ["fully_connected", "fully_connected"]


def test_constant_subgraphs_fold(tmp_path: Path) -> None:
    """Constant nodes and a Shape -> Gather -> Concat -> Reshape chain become constants."""
    w = RNG.normal(size=(2, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Constant", [], ["w"], value=_init("wv", w)),
        conv("x", "c", "w"),
        helper.make_node("Shape", ["c"], ["sh"]),
        helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["s"], axis=0),
        helper.make_node("Reshape", ["c", "s"], ["y"]),
    ]
    inits = [
        _init("zero", np.array(0, np.int64)),
        _init("zero1", np.array([0], np.int64)),
        _init("minus1", np.array([-1], np.int64)),
    ]
    g = check(make_model(nodes, [("x", [1, 3, 2, 2])], ["y"], inits), tmp_path)
    assert ops(g)[0] == "conv2d"


def test_nchw_input_layout(tmp_path: Path) -> None:
    w = RNG.normal(size=(2, 3, 3, 3)).astype(np.float32)
    g = check(
        make_model([conv("x", "y", "w")], [("x", [1, 3, 5, 4])], ["y"], [_init("w", w)]), tmp_path, input_layout="nchw"
    )
    assert ops(g) == ["transpose", "conv2d"]
    assert g.tensors[g.inputs[0]].shape == (1, 3, 5, 4)


def test_symbolic_batch_is_one(tmp_path: Path) -> None:
    w = RNG.normal(size=(2, 3, 1, 1)).astype(np.float32)
    g = check(make_model([conv("x", "y", "w")], [("x", ["N", 3, 4, 4])], ["y"], [_init("w", w)]), tmp_path)
    assert g.tensors[g.inputs[0]].shape == (1, 4, 4, 3)


# --- errors -------------------------------------------------------------------------------
def test_unsupported_nodes_all_listed(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="ok"),
        helper.make_node("Hardmax", ["a"], ["b"], name="bad_hardmax"),
        helper.make_node("Det", ["b"], ["c"], name="bad_det"),
        helper.make_node("Foo", ["c"], ["y"], name="bad_custom", domain="com.example"),
    ]
    m = make_model(nodes, [("x", [2, 2])], ["y"])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(m, tmp_path / "m.onnx")
    with pytest.raises(UnsupportedModelError) as err:
        load_onnx(tmp_path / "m.onnx")
    msg = str(err.value)
    for needle in ("bad_hardmax", "Hardmax", "bad_det", "bad_custom", "com.example", "opset 13"):
        assert needle in msg
    assert "'ok'" not in msg


def test_unsupported_opset(tmp_path: Path) -> None:
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [2])], ["y"], opset=9), tmp_path / "m.onnx")
    with pytest.raises(UnsupportedModelError, match="opset 9"):
        load_onnx(tmp_path / "m.onnx")


def test_truncated_file(tmp_path: Path) -> None:
    w = RNG.normal(size=(8, 3, 3, 3)).astype(np.float32)
    onnx.save(make_model([conv("x", "y", "w")], [("x", [1, 3, 5, 5])], ["y"], [_init("w", w)]), tmp_path / "m.onnx")
    data = (tmp_path / "m.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(QCompileError, match="cut.onnx"):
        load_onnx(tmp_path / "cut.onnx")


def test_nan_weight(tmp_path: Path) -> None:
    w = np.ones((2, 3, 1, 1), np.float32)
    w[1, 0, 0, 0] = np.inf
    onnx.save(
        make_model([conv("x", "y", "wname")], [("x", [1, 3, 2, 2])], ["y"], [_init("wname", w)]), tmp_path / "m.onnx"
    )
    with pytest.raises(QCompileError, match="wname"):
        load_onnx(tmp_path / "m.onnx")


def test_dynamic_spatial_dim(tmp_path: Path) -> None:
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"])], [("x", [1, 3, "H", 4])], ["y"]), tmp_path / "m.onnx")
    with pytest.raises(QCompileError, match="'H'"):
        load_onnx(tmp_path / "m.onnx")


# --- MLPerf ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["resnet8_onnx", "kws_onnx"])
def test_mlperf_models(tmp_path: Path, fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    raw = load_onnx(path, optimize=False)
    assert "transpose" not in ops(raw)
    graph = load_onnx(path)
    assert "transpose" not in ops(graph)
    assert "elementwise" not in ops(graph)  # every relu fused
    for t in graph.activations():
        assert t.source_name is not None
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = RNG.uniform(0, 1, inp.shape).astype(np.float32) * (255 if fixture == "resnet8_onnx" else 10)
    ref = sess.run(None, {inp.name: x})[0]
    got = run_float(graph, {graph.inputs[0]: x.transpose(0, 2, 3, 1)})[graph.outputs[0]]
    np.testing.assert_allclose(got, ref, atol=1e-5)
