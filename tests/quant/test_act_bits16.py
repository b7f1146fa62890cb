"""--act-bits 16: a float ONNX model quantized whole in TFLite's 16x8 scheme (symmetric int16
activations, int8 weights, int64 bias; TFLM's int16 softmax, output 1/32768), bit-exact
between the generated C and the reference, and closer to float than int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qcompile
from qcompile.errors import QCompileError
from qcompile.quant.quantize import int16_activation_params
from qcompile.tools.verify import verify

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"


def test_int16_activation_params_are_symmetric() -> None:
    q = int16_activation_params(-3.0, 1.5)
    assert q.dtype == "int16" and int(q.zero_point) == 0
    assert float(q.scale) == float(np.float32(3.0 / 32767))
    assert int(q.quantize(np.array([-3.0]))[0]) == -32767
    assert float(int16_activation_params(0.0, 0.0).scale) == float(np.float32(1 / 32767))
    with pytest.raises(QCompileError, match="not finite"):
        int16_activation_params(0.0, float("inf"))


def test_digits_act_bits_16_is_bit_exact_and_beats_int8(tmp_path: Path) -> None:
    sqnr = {}
    for bits in (8, 16):
        out = tmp_path / f"d{bits}"
        m = qcompile.compile(DIGITS / "digits_cnn.onnx", out, calib=DIGITS / "calib.npz", act_bits=bits)
        result = verify(out, data=DIGITS / "test.npz", limit=100)
        assert result.bit_exact == result.samples == 100
        sqnr[bits] = result.outputs[0].sqnr_db
        if bits == 16:
            assert [i.dtype for i in m.inputs] == ["int16"]
            g = m.graph
            ops = {n.op: g.tensors[n.inputs[0]].dtype for n in g.nodes}
            assert ops["conv2d"] == "int16" and ops["softmax"] == "int16" and "requantize" not in ops
            soft = next(n for n in g.nodes if n.op == "softmax")
            assert float(g.tensors[soft.outputs[0]].quant.scale) == 1 / 32768
            biases = [g.tensors[n.inputs[2]].dtype for n in g.nodes if n.op in ("conv2d", "fully_connected")]
            assert set(biases) == {"int64"}
            assert "int digits_cnn_run(const int16_t *input" in (out / "digits_cnn.h").read_text()
    assert sqnr[16] > sqnr[8] + 2.0, sqnr


def test_act_bits_is_refused_for_tflite(tmp_path: Path) -> None:
    tflite = REPO.parent / "shared" / "models" / "mlperf_kws_dscnn_int8.tflite"
    if not tflite.exists():
        pytest.skip("needs ../shared/models")
    with pytest.raises(QCompileError, match="--act-bits 16"):
        qcompile.compile(tflite, tmp_path / "o", act_bits=16)


def test_per_layer_act_bits_inserts_requantize_and_stays_bit_exact(tmp_path: Path) -> None:
    m8 = qcompile.compile(DIGITS / "digits_cnn.onnx", tmp_path / "d8", calib=DIGITS / "calib.npz")
    first_conv = next(n for n in m8.graph.nodes if n.op == "conv2d")
    name = m8.graph.tensors[first_conv.outputs[0]].source_name
    out = tmp_path / "mixed"
    m = qcompile.compile(DIGITS / "digits_cnn.onnx", out, calib=DIGITS / "calib.npz", act_bits_for={name: 16})
    assert [i.dtype for i in m.inputs] == ["int8"]
    widths = {n.name: m.graph.tensors[n.outputs[0]].dtype for n in m.graph.nodes}
    assert "int16" in widths.values() and "int8" in widths.values()
    converts = [n for n in m.graph.nodes if n.op == "requantize"]
    assert {int(n.attrs["output_bits"]) for n in converts} == {8, 16}
    for node in m.graph.nodes:  # every reader computes in its inputs' width
        if node.op not in ("requantize", "softmax"):
            acts = [m.graph.tensors[i] for i in node.inputs if i and not m.graph.tensors[i].is_constant]
            assert {t.dtype for t in acts} <= {m.graph.tensors[node.outputs[0]].dtype}, node.name
    result = verify(out, data=DIGITS / "test.npz", limit=100)
    assert result.bit_exact == result.samples == 100


def test_act_bits_for_unknown_name_lists_names(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="no activation or node named 'nope'"):
        qcompile.compile(
            DIGITS / "digits_cnn.onnx", tmp_path / "o", calib=DIGITS / "calib.npz", act_bits_for={"nope": 16}
        )


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_act_bits_16_softmax_any_axis_is_int16_and_bit_exact(tmp_path: Path, axis: int) -> None:
    """ONNX Softmax on the channel, height or width axis (NCHW) under --act-bits 16: TFLM's
    int16 softmax (behind int16 transposes when the axis is not innermost), C == reference."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Softmax", ["c"], ["y"], axis=axis),
    ]
    graph = helper.make_graph(
        nodes,
        "sm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 6])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "sm.onnx"
    path.write_bytes(model.SerializeToString())
    np.savez(tmp_path / "calib.npz", x=rng.normal(size=(20, 1, 3, 5, 6)).astype(np.float32))
    np.savez(tmp_path / "test.npz", x=rng.normal(size=(30, 1, 3, 5, 6)).astype(np.float32))
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    g = m.graph
    soft = next(n for n in g.nodes if n.op == "softmax")
    assert g.tensors[soft.inputs[0]].dtype == "int16" and g.tensors[soft.outputs[0]].dtype == "int16"
    assert "requantize" not in [n.op for n in g.nodes]
    result = verify(tmp_path / "out", data=tmp_path / "test.npz", limit=30)
    assert result.bit_exact == result.samples == 30
    assert result.outputs[0].sqnr_db > 30, result.outputs[0].sqnr_db  # the int8 conv weights bound it


def test_bias_correction_on_16x8_keeps_int64_biases_and_bit_exact(tmp_path: Path) -> None:
    """--bias-correction runs each layer's 16x8 kernel on int16 inputs and corrects int64 biases in
    place (it used to call the int8 kernel and cast the biases to int32)."""
    m = qcompile.compile(
        DIGITS / "digits_cnn.onnx", tmp_path / "bc16", calib=DIGITS / "calib.npz", act_bits=16, bias_correction=True
    )
    plain = qcompile.compile(DIGITS / "digits_cnn.onnx", tmp_path / "p16", calib=DIGITS / "calib.npz", act_bits=16)
    g, p = m.graph, plain.graph
    weighted = [n for n in g.nodes if n.op in ("conv2d", "fully_connected")]
    assert {g.tensors[n.inputs[2]].dtype for n in weighted} == {"int64"}
    before = {n.name: p.tensors[n.inputs[2]].data for n in p.nodes if n.op in ("conv2d", "fully_connected")}
    assert any(not np.array_equal(g.tensors[n.inputs[2]].data, before[n.name]) for n in weighted)
    result = verify(tmp_path / "bc16", data=DIGITS / "test.npz", limit=32)
    assert result.bit_exact == result.samples == 32
