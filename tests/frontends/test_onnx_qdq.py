"""Pre-quantized ONNX import (QDQ and operator format): small float models quantized on the fly by
onnxruntime's ``quantize_static``, imported with their own parameters, run by the numpy reference
and compared with the quantized model run by onnxruntime; plus the exactness rules (one error
naming the node and why) and the uint8 -> int8 shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.frontends.onnx_qdq import activation_params, is_quantized, load_qdq
from qcompile.reference.executor import run_quantized

INPUT = (1, 3, 8, 8)


def _init(name: str, data) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(data), name)


def float_cnn(softmax: bool = True, global_pool: bool = True) -> onnx.ModelProto:
    """Conv+Relu, depthwise Conv+Relu, residual Add, MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax."""
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.4, (8, 3, 3, 3)).astype(np.float32)
    w2 = rng.normal(0, 0.4, (8, 1, 3, 3)).astype(np.float32)
    wf = rng.normal(0, 0.4, (5, 8 if global_pool else 128)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Add", ["r1", "r2"], ["s"]),
        helper.make_node("MaxPool", ["s"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"])
        if global_pool
        else helper.make_node("Identity", ["p"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1)
        if softmax
        else helper.make_node("Relu", ["logits"], ["y"]),
    ]
    inits = [
        _init("w1", w1),
        _init("b1", rng.normal(0, 0.1, 8).astype(np.float32)),
        _init("w2", w2),
        _init("b2", rng.normal(0, 0.1, 8).astype(np.float32)),
        _init("wf", wf),
        _init("bf", rng.normal(0, 0.1, 5).astype(np.float32)),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, INPUT)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


class _Reader(CalibrationDataReader):
    def __init__(self, xs: np.ndarray) -> None:
        self.it = iter([{"x": xs[i : i + 1]} for i in range(len(xs))])

    def get_next(self):
        return next(self.it, None)


def samples(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, *INPUT[1:])).astype(np.float32)


def quantized_model(tmp_path: Path, fmt, per_channel: bool, act, name: str = "q.onnx", softmax: bool = True) -> Path:
    src, dst = tmp_path / "float.onnx", tmp_path / name
    onnx.save(float_cnn(softmax), src)
    quantize_static(
        str(src), str(dst), _Reader(samples(32)), quant_format=fmt, per_channel=per_channel,
        activation_type=act, weight_type=QuantType.QInt8,
    )  # fmt: skip
    return dst


def int16_model(tmp_path: Path, *, global_pool: bool = False, n: int = 32, softmax: bool = False) -> Path:
    """The test CNN quantized with symmetric QInt16 activations (TFLite's 16x8)."""
    src, dst = tmp_path / "f16.onnx", tmp_path / "i16.onnx"
    onnx.save(float_cnn(softmax=softmax, global_pool=global_pool), src)
    quantize_static(
        str(src), str(dst), _Reader(samples(n)), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt16, weight_type=QuantType.QInt8, extra_options={"ActivationSymmetric": True},
    )  # fmt: skip
    return dst


def run_both(path: Path, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(qcompile's int8 outputs dequantized, onnxruntime's on the model, output scale)."""
    graph = load_qdq(path)
    t_in, t_out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    ours, theirs = [], []
    for x in xs:
        q = t_in.quant.quantize(x[None].transpose(t_in.source_perm))
        out = run_quantized(graph, {graph.inputs[0]: q})[graph.outputs[0]]
        ours.append(t_out.quant.dequantize(out).reshape(-1))
        theirs.append(sess.run(None, {"x": x[None]})[0].reshape(-1))
    return np.array(ours), np.array(theirs), t_out.quant.scalar_scale()


CASES = [
    (QuantFormat.QDQ, True, QuantType.QUInt8),
    (QuantFormat.QDQ, True, QuantType.QInt8),
    (QuantFormat.QDQ, False, QuantType.QUInt8),
]


@pytest.mark.parametrize(("fmt", "per_channel", "act"), CASES, ids=lambda v: str(v).split(".")[-1])
def test_matches_onnxruntime(tmp_path: Path, fmt, per_channel, act) -> None:
    path = quantized_model(tmp_path, fmt, per_channel, act)
    assert is_quantized(onnx.load(path))
    xs = samples(40, seed=2)
    ours, theirs, scale = run_both(path, xs)
    # Integer requantisation vs float Q/DQ: the same codes but for rounding (ties, TFLite
    # MEAN's two roundings) and the softmax approximation; the probabilities (scale 1/255) move
    # by a few codes where a logit moves by one.
    diff = np.abs(ours - theirs)
    assert diff.max() <= 8.01 * scale
    assert diff.mean() <= 1.0 * scale
    assert np.mean(ours.argmax(1) == theirs.argmax(1)) >= 0.9


@pytest.mark.parametrize("per_channel", [True, False])
def test_operator_format_is_the_qdq_model(tmp_path: Path, per_channel: bool) -> None:
    """QLinearConv, QLinearAdd, QLinearGlobalAveragePool, QGemm, ... mean DQ -> op -> Q: the same
    calibration in both formats gives the same integer graph, output for output (ORT's QLinearSoftmax
    fixes its output at 1/256, its QDQ softmax at 1/255: this model ends in a Relu)."""
    qdq = load_qdq(quantized_model(tmp_path, QuantFormat.QDQ, per_channel, QuantType.QUInt8, "qdq.onnx", False))
    qop_path = quantized_model(tmp_path, QuantFormat.QOperator, per_channel, QuantType.QUInt8, "qop.onnx", False)
    assert any(n.op_type == "QLinearConv" for n in onnx.load(qop_path).graph.node)
    qop = load_qdq(qop_path)
    assert [n.op for n in qop.nodes] == [n.op for n in qdq.nodes]
    t_in = qdq.tensors[qdq.inputs[0]]
    assert qop.tensors[qop.inputs[0]].quant == t_in.quant
    for x in samples(10, seed=4):
        q = t_in.quant.quantize(x[None].transpose(t_in.source_perm))
        a = run_quantized(qdq, {qdq.inputs[0]: q})[qdq.outputs[0]]
        b = run_quantized(qop, {qop.inputs[0]: q})[qop.outputs[0]]
        np.testing.assert_array_equal(a, b)


def test_graph_keeps_the_models_parameters(tmp_path: Path) -> None:
    path = quantized_model(tmp_path, QuantFormat.QDQ, True, QuantType.QUInt8)
    model = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    q_in = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x")
    graph = load_qdq(path)
    t = graph.tensors[graph.inputs[0]]
    assert t.quant.scalar_scale() == float(np.float32(inits[q_in.input[1]]))
    assert t.quant.scalar_zero_point() == int(inits[q_in.input[2]]) - 128  # uint8 shifted exactly
    conv = next(n for n in graph.nodes if n.op in ("conv2d", "conv2d_add"))
    w = graph.tensors[conv.inputs[1]]
    dq_w = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0].startswith("w1"))
    stored = inits[dq_w.input[0]]
    np.testing.assert_array_equal(w.data, stored.transpose(0, 2, 3, 1))  # the model's own int8 weights
    np.testing.assert_array_equal(w.quant.scale, inits[dq_w.input[1]].astype(np.float64))


def test_uint8_is_shifted_exactly() -> None:
    q = activation_params(np.float32(0.5), np.uint8(140), "t")
    assert (q.scalar_zero_point(), q.dtype) == (12, "int8")
    u8 = np.arange(256)
    real_u8 = (u8 - 140) * 0.5
    np.testing.assert_array_equal(q.dequantize(u8 - 128), real_u8)
    assert activation_params(np.float32(0.5), np.int16(0), "t").dtype == "int16"
    with pytest.raises(ValueError, match="per channel"):
        activation_params(np.array([0.5, 0.25], np.float32), np.array([0, 0], np.int8), "t")


# ---- what the TFLite integer spec cannot express: one error naming the node -------------------


def _qdq_conv(w_zp: int = 0, bias_scale_factor: float = 1.0, q_after: bool = True) -> onnx.ModelProto:
    """x -Q/DQ-> Conv(DQ(w int8), DQ(b int32)) -Q/DQ-> y, built by hand."""
    s_x, s_w, s_y = np.float32(0.05), np.float32(0.01), np.float32(0.1)
    rng = np.random.default_rng(3)
    w = rng.integers(-100, 100, (4, 2, 1, 1)).astype(np.int8)
    b = rng.integers(-500, 500, 4).astype(np.int32)
    inits = [
        _init("s_x", s_x), _init("z_x", np.int8(0)), _init("s_y", s_y), _init("z_y", np.int8(0)),
        _init("w_q", w), _init("s_w", s_w), _init("z_w", np.int8(w_zp)),
        _init("b_q", b), _init("s_b", np.float32(s_x * s_w * bias_scale_factor)), _init("z_b", np.int32(0)),
    ]  # fmt: skip
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w_q", "s_w", "z_w"], ["w"]),
        helper.make_node("DequantizeLinear", ["b_q", "s_b", "z_b"], ["b"]),
        helper.make_node("Conv", ["xd", "w", "b"], ["c"], name="the_conv"),
    ]
    if q_after:
        nodes += [
            helper.make_node("QuantizeLinear", ["c", "s_y", "z_y"], ["cq"]),
            helper.make_node("DequantizeLinear", ["cq", "s_y", "z_y"], ["y"]),
        ]
    else:
        nodes.append(helper.make_node("Sigmoid", ["c"], ["y"], name="float_sigmoid"))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 2, 4, 4))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def test_hand_built_qdq_conv_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "c.onnx"
    onnx.save(_qdq_conv(), path)
    graph = load_qdq(path)
    conv = next(n for n in graph.nodes if n.op == "conv2d")
    np.testing.assert_array_equal(graph.tensors[conv.inputs[2]].data, numpy_helper.to_array(_init_of(path, "b_q")))


def _init_of(path: Path, name: str) -> onnx.TensorProto:
    return next(i for i in onnx.load(path).graph.initializer if i.name == name)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_qdq_conv(w_zp=3), "'the_conv'.*asymmetric"),
        (_qdq_conv(bias_scale_factor=1.5), "'the_conv'.*bias scale .* is not input scale x weight scale"),
        (_qdq_conv(q_after=False), "tensor 'c'.*the_conv.*no QuantizeLinear"),
    ],
    ids=["asymmetric-weights", "bias-scale", "float-between-dq-and-q"],
)
def test_inexpressible_graphs_are_named(tmp_path: Path, model: onnx.ModelProto, message: str) -> None:
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    with pytest.raises(UnsupportedModelError, match=message):
        load_qdq(path)


def test_batchnorm_on_dequantized_weights_is_refused(tmp_path: Path) -> None:
    model = _qdq_conv(q_after=False)
    g = model.graph
    del g.node[-1]
    for name, value in (("bn_s", 1.5), ("bn_b", 0.1), ("bn_m", 0.2), ("bn_v", 2.0)):
        g.initializer.append(_init(name, np.full(4, value, np.float32)))
    g.node.extend(
        [
            helper.make_node("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"]),
            helper.make_node("QuantizeLinear", ["bn", "s_y", "z_y"], ["bq"]),
            helper.make_node("DequantizeLinear", ["bq", "s_y", "z_y"], ["y"]),
        ]
    )
    path = tmp_path / "bn.onnx"
    onnx.save(model, path)
    with pytest.raises(UnsupportedModelError, match="no QuantizeLinear|no int8 form|float"):
        load_qdq(path)


def test_qat_export_float_weights_behind_quantizelinear(tmp_path: Path) -> None:
    """PyTorch-style export: the float weight goes through Q then DQ, the bias stays float."""
    model = _qdq_conv()
    g = model.graph
    w_q = numpy_helper.to_array(next(i for i in g.initializer if i.name == "w_q"))
    w_float = (w_q.astype(np.float32) * np.float32(0.01)).astype(np.float32)
    g.initializer.extend([_init("w_f", w_float), _init("b_f", np.array([0.1, -0.2, 0.3, 0.0], np.float32))])
    g.node.insert(0, helper.make_node("QuantizeLinear", ["w_f", "s_w", "z_w"], ["w_q2"]))
    for node in g.node:
        if node.op_type == "DequantizeLinear" and node.input[0] == "w_q":
            node.input[0] = "w_q2"
        if node.op_type == "Conv":
            node.input[2] = "b_f"
    path = tmp_path / "qat.onnx"
    onnx.save(model, path)
    graph = load_qdq(path)
    conv = next(n for n in graph.nodes if n.op == "conv2d")
    np.testing.assert_array_equal(graph.tensors[conv.inputs[1]].data.reshape(-1), w_q.transpose(0, 2, 3, 1).reshape(-1))
    bias = graph.tensors[conv.inputs[2]].data
    np.testing.assert_array_equal(
        bias, np.round(np.array([0.1, -0.2, 0.3, 0.0]) / (0.05 * np.float64(np.float32(0.01))))
    )


def test_zero_weight_scale_is_named(tmp_path: Path) -> None:
    model = _qdq_conv()
    for init in model.graph.initializer:
        if init.name == "s_w":
            init.CopyFrom(_init("s_w", np.float32(0.0)))
    path = tmp_path / "z.onnx"
    onnx.save(model, path)
    with pytest.raises(UnsupportedModelError, match="'the_conv'.*weight scales must be positive"):
        load_qdq(path)


def test_malformed_per_axis_scale_is_named(tmp_path: Path) -> None:
    model = _qdq_conv()
    for init in model.graph.initializer:
        if init.name in ("s_w", "z_w"):
            value = np.full(3, 0.01, np.float32) if init.name == "s_w" else np.zeros(3, np.int8)
            init.CopyFrom(_init(init.name, value))
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] == "w_q":
            node.attribute.append(helper.make_attribute("axis", 0))
    path = tmp_path / "axis.onnx"
    onnx.save(model, path)
    with pytest.raises(UnsupportedModelError, match="per-axis scale of 3 values does not match axis 0"):
        load_qdq(path)


def test_inspect_reads_quantized_nodes(tmp_path: Path) -> None:
    from qcompile.tools.inspect import describe, totals

    path = tmp_path / "c.onnx"
    onnx.save(_qdq_conv(), path)
    assert totals(describe(path))["unsupported"] == 0


def test_calib_is_refused(tmp_path: Path) -> None:
    from qcompile.compiler import CompileOptions, quantize_model

    path = tmp_path / "c.onnx"
    onnx.save(_qdq_conv(), path)
    with pytest.raises(QCompileError, match="already quantized .* --calib is not accepted"):
        quantize_model(path, CompileOptions(calib=tmp_path / "calib.npz"))
    with pytest.raises(QCompileError, match="--equalize cannot apply"):
        quantize_model(path, CompileOptions(equalize=True))
    assert quantize_model(path, CompileOptions()).nodes


def test_dynamic_input_dims_take_input_shapes(tmp_path: Path) -> None:
    model = onnx.load(quantized_model(tmp_path, QuantFormat.QDQ, True, QuantType.QUInt8))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    path = tmp_path / "dyn.onnx"
    onnx.save(model, path)
    graph = load_qdq(path, input_shapes={"x": INPUT})
    assert graph.tensors[graph.inputs[0]].source_shape == INPUT


def test_int16_activations_map_to_16x8(tmp_path: Path) -> None:
    """QDQ QInt16 activations (symmetric) are TFLite's 16x8: int16 tensors, int64 biases, the s16 kernels."""
    dst = int16_model(tmp_path)
    graph = load_qdq(dst)
    assert {graph.tensors[t].dtype for t in graph.inputs + graph.outputs} == {"int16"}
    conv = next(n for n in graph.nodes if n.op == "conv2d")
    assert graph.tensors[conv.inputs[2]].dtype == "int64"
    ours, theirs, scale = run_both(dst, samples(20, seed=2))
    assert np.abs(ours - theirs).max() <= 4.01 * scale


def test_int16_softmax_and_global_pool_map_to_16x8(tmp_path: Path) -> None:
    """QDQ QInt16 GlobalAveragePool (TFLite MEAN) and Softmax (TFLM's int16 softmax, output
    1/32768 then an int16 requantize to the model's own output parameters) stay int16."""
    dst = int16_model(tmp_path, global_pool=True, softmax=True)
    graph = load_qdq(dst)
    ops = {n.op: n for n in graph.nodes}
    assert "softmax" in ops and graph.tensors[ops["softmax"].inputs[0]].dtype == "int16"
    assert float(graph.tensors[ops["softmax"].outputs[0]].quant.scale) == 1 / 32768
    assert all(t.dtype == "int16" for t in graph.activations())
    ours, theirs, scale = run_both(dst, samples(20, seed=2))
    assert np.abs(ours - theirs).max() <= 4.01 * scale, np.abs(ours - theirs).max()  # measured: 2 LSB


def test_asymmetric_int16_and_int16_without_kernel_are_named(tmp_path: Path, monkeypatch) -> None:
    from qcompile.frontends import onnx_qdq

    dst = int16_model(tmp_path, global_pool=True, n=8)
    monkeypatch.setattr(onnx_qdq, "S16_OPS", onnx_qdq.S16_OPS - {"global_avg_pool"})
    with pytest.raises(UnsupportedModelError, match="GlobalAveragePool.*int16 and global_avg_pool has no 16x8"):
        load_qdq(dst)
    with pytest.raises(ValueError, match="16x8 needs symmetric int16"):
        activation_params(np.float32(0.5), np.int16(3), "t")
