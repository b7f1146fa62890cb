"""--act-bits 16 on ONNX unary functions: Sigmoid/Tanh as TFLM's int16 LOGISTIC/TANH (output
2^-15), LeakyRelu as TFLM's int16 LEAKY_RELU, the others as 513-entry int16 tables
(``quant/elementwise_s16.py``): no requantize islands, generated C == reference, and the
int16 table (reference == C on all 65,536 inputs) close to the real function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qcompile
from qcompile.reference.float_ops import elementwise_function
from qcompile.reference.kernels import eltwise_s16
from qcompile.tools.verify import verify

ALL = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize(
    ("fn", "params", "s_in", "s_out"),
    [
        ("gelu", {}, 8 / 32767, 8 / 32767),
        ("exp", {}, 3 / 32767, 21 / 32767),
        ("elu", {"alpha": 1.0}, 6 / 32767, 6 / 32767),
        ("hard_swish", {}, 7 / 32767, 7 / 32767),
        ("erf", {}, 2.5 / 32767, 1 / 32767),
        ("softplus", {}, 9 / 32767, 9 / 32767),
    ],
)
def test_lut_s16_all_inputs_c_equals_reference_and_tracks_the_function(fn, params, s_in, s_out) -> None:
    import qcompile.host._runtime as rt

    f = elementwise_function(fn, **params)
    table = eltwise_s16.lut_table_s16(f, s_in, s_out)
    assert table.shape == (513,) and table.dtype == np.int16
    want = eltwise_s16.lut(ALL, table=table)
    np.testing.assert_array_equal(rt.lut_s16(ALL, table=table), want)
    real = np.clip(np.round(f(ALL.astype(np.float64) * s_in) / s_out), -32768, 32767)
    # 128-input linear segments: a kink inside one (hard_swish at +-3) costs up to ~16 LSB
    assert np.max(np.abs(want - real)) <= 16, np.max(np.abs(want - real))


def test_lut_s16_rejects_a_wrong_table() -> None:
    with pytest.raises(ValueError, match="513"):
        eltwise_s16.lut(ALL, table=np.zeros(256, np.int16))


def _model(tmp_path: Path, ops: list[tuple[str, dict]]) -> Path:
    """Conv then a chain of the given unary ONNX ops (with attributes), output the last."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(21)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32) * 0.5, "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["t0"], pads=[1, 1, 1, 1])]
    for i, (op, attrs) in enumerate(ops):
        nodes.append(helper.make_node(op, [f"t{i}"], [f"t{i + 1}"], **attrs))
    graph = helper.make_graph(
        nodes,
        "unary16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 5])],
        [helper.make_tensor_value_info(f"t{len(ops)}", TensorProto.FLOAT, [1, 4, 6, 5])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    path = tmp_path / "unary16.onnx"
    path.write_bytes(model.SerializeToString())
    np.savez(tmp_path / "calib.npz", x=rng.normal(size=(24, 1, 3, 6, 5)).astype(np.float32))
    return path


CHAINS = {
    "sigmoid_tanh": [("Sigmoid", {}), ("Tanh", {})],
    "leaky_gelu": [("LeakyRelu", {"alpha": 0.1}), ("Gelu", {})],
    "hardswish_elu_exp": [("HardSwish", {}), ("Elu", {"alpha": 0.7}), ("Exp", {})],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_act_bits_16_unary_ops_run_in_int16_bit_exact(chain: str, tmp_path: Path) -> None:
    path = _model(tmp_path, CHAINS[chain])
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    g = m.graph
    ops = [n.op for n in g.nodes]
    assert "requantize" not in ops, ops
    assert all(t.dtype == "int16" for t in g.activations()), ops
    if chain == "sigmoid_tanh":
        assert {"logistic", "tanh"} <= set(ops)
        for n in g.nodes:
            if n.op in ("logistic", "tanh"):
                assert float(g.tensors[n.outputs[0]].quant.scale) == 2.0**-15
    if chain == "leaky_gelu":
        assert "leaky_relu" in ops and "lut" in ops
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=24)
    assert result.bit_exact == result.samples == 24
    assert result.outputs[0].sqnr_db > 35, result.outputs[0].sqnr_db


def test_act_bits_16_matmul_of_activations_is_int16_bit_exact(tmp_path: Path) -> None:
    """ONNX MatMul of two activations (attention scores) under --act-bits 16: TFLM's int16
    BATCH_MATMUL (``qc_batch_matmul_s16``), then Softmax in int16; no requantize, C == reference."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "attn16",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 6, 8]) for n in ("q", "k")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 6])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "attn16.onnx"
    path.write_bytes(model.SerializeToString())
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "calib.npz", q=rng.normal(size=(20, 1, 6, 8)).astype(np.float32),
             k=rng.normal(size=(20, 1, 6, 8)).astype(np.float32))  # fmt: skip
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = {n.op: n for n in m.graph.nodes}
    assert "batch_matmul" in ops and "requantize" not in ops, list(ops)
    assert m.graph.tensors[ops["batch_matmul"].outputs[0]].dtype == "int16"
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=20)
    assert result.bit_exact == result.samples == 20
    assert result.outputs[0].sqnr_db > 40, result.outputs[0].sqnr_db


def test_act_bits_16_prelu_is_int16_bit_exact(tmp_path: Path) -> None:
    """ONNX PRelu (per-channel slopes) under --act-bits 16: TFLM's int16 PRELU, int8 alpha."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(6)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32) * 0.5, "w")
    slope = numpy_helper.from_array(rng.uniform(0.05, 0.4, (4, 1, 1)).astype(np.float32), "slope")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["c", "slope"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "prelu16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 5])],
        [w, slope],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "prelu16.onnx"
    path.write_bytes(model.SerializeToString())
    np.savez(tmp_path / "calib.npz", x=rng.normal(size=(20, 1, 3, 6, 5)).astype(np.float32))
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = {n.op: n for n in m.graph.nodes}
    assert "prelu" in ops and "requantize" not in ops, list(ops)
    assert m.graph.tensors[ops["prelu"].inputs[0]].dtype == "int16"
    assert "qc_prelu_s16" in (tmp_path / "out" / "prelu16.c").read_text()
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=20)
    assert result.bit_exact == result.samples == 20
    assert result.outputs[0].sqnr_db > 35, result.outputs[0].sqnr_db


def test_act_bits_16_keras_cnn_has_no_int8_island(tmp_path: Path) -> None:
    """examples/realworld/keras_cnn.onnx (LeakyRelu, Max, Min, PRelu, BN) under --act-bits 16:
    every node int16 (16 requantize nodes before the int16 tables, prelu and max/min), C == reference."""
    import sys

    realworld = Path(__file__).resolve().parents[2] / "examples" / "realworld"
    sys.path.insert(0, str(realworld))
    from data import samples

    np.savez(tmp_path / "calib.npz", input=samples("keras", "calib", 16))
    m = qcompile.compile(realworld / "keras_cnn.onnx", tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = [n.op for n in m.graph.nodes]
    assert "requantize" not in ops and {"maximum", "minimum", "prelu"} <= set(ops), ops
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=8)
    assert result.bit_exact == result.samples == 8


def test_act_bits_16_resize_nearest_is_int16_bit_exact(tmp_path: Path) -> None:
    """ONNX Resize (nearest, 2x) under --act-bits 16: int16 resize_nearest, compiled as
    qc_resize_nearest_s8 on bytes (channels doubled); C == reference."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(9)
    w = numpy_helper.from_array(rng.normal(size=(3, 3, 3, 3)).astype(np.float32) * 0.5, "w")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="nearest"),
    ]
    graph = helper.make_graph(
        nodes,
        "resize16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 10])],
        [w, scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "resize16.onnx"
    path.write_bytes(model.SerializeToString())
    np.savez(tmp_path / "calib.npz", x=rng.normal(size=(12, 1, 3, 4, 5)).astype(np.float32))
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = {n.op: n for n in m.graph.nodes}
    assert "resize_nearest" in ops and "requantize" not in ops, list(ops)
    assert m.graph.tensors[ops["resize_nearest"].inputs[0]].dtype == "int16"
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=12)
    assert result.bit_exact == result.samples == 12
