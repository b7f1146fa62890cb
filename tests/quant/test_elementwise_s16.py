"""--act-bits 16 on ONNX unary functions (``quant/elementwise_s16.py``): Sigmoid/Tanh as TFLM's
int16 LOGISTIC/TANH (output 2^-15), LeakyRelu as TFLM's int16 LEAKY_RELU, the others as
513-entry int16 tables; and the other ops that now stay int16 (MatMul of activations, PRelu,
Max/Min, Resize nearest): no requantize islands, generated C == reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qcompile
from qcompile.tools.verify import verify


def _save(tmp_path: Path, name: str, nodes, inputs: dict, output: tuple, inits=(), opset: int = 13) -> Path:
    """Write ONNX model ``name`` (float ``inputs`` {name: shape}, one ``output`` (name, shape))
    and ``calib.npz`` with 24 normal samples per input; returns the model path."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(len(name))
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(s)) for k, s in inputs.items()],
        [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, list(output[1]))],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9 if opset >= 20 else 8
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    calib = {k: rng.normal(size=(24, *s)).astype(np.float32) for k, s in inputs.items()}
    np.savez(tmp_path / "calib.npz", **calib)
    return path


def _model(tmp_path: Path, ops: list[tuple[str, dict]]) -> Path:
    """Conv then a chain of the given unary ONNX ops (with attributes), output the last."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(21)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32) * 0.5, "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["t0"], pads=[1, 1, 1, 1])]
    for i, (op, attrs) in enumerate(ops):
        nodes.append(helper.make_node(op, [f"t{i}"], [f"t{i + 1}"], **attrs))
    return _save(tmp_path, "unary16", nodes, {"x": (1, 3, 6, 5)}, (f"t{len(ops)}", (1, 4, 6, 5)), [w], opset=20)


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
    from onnx import helper

    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["y"], axis=-1),
    ]
    path = _save(tmp_path, "attn16", nodes, {"q": (1, 6, 8), "k": (1, 6, 8)}, ("y", (1, 6, 6)))
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = {n.op: n for n in m.graph.nodes}
    assert "batch_matmul" in ops and "requantize" not in ops, list(ops)
    assert m.graph.tensors[ops["batch_matmul"].outputs[0]].dtype == "int16"
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=24)
    assert result.bit_exact == result.samples == 24
    assert result.outputs[0].sqnr_db > 40, result.outputs[0].sqnr_db


def test_act_bits_16_prelu_is_int16_bit_exact(tmp_path: Path) -> None:
    """ONNX PRelu (per-channel slopes) under --act-bits 16: TFLM's int16 PRELU, int8 alpha."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(6)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32) * 0.5, "w")
    slope = numpy_helper.from_array(rng.uniform(0.05, 0.4, (4, 1, 1)).astype(np.float32), "slope")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["c", "slope"], ["y"]),
    ]
    path = _save(tmp_path, "prelu16", nodes, {"x": (1, 3, 6, 5)}, ("y", (1, 4, 6, 5)), [w, slope])
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = {n.op: n for n in m.graph.nodes}
    assert "prelu" in ops and "requantize" not in ops, list(ops)
    assert m.graph.tensors[ops["prelu"].inputs[0]].dtype == "int16"
    assert "qc_prelu_s16" in (tmp_path / "out" / "prelu16.c").read_text()
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=24)
    assert result.bit_exact == result.samples == 24
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
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(9)
    w = numpy_helper.from_array(rng.normal(size=(3, 3, 3, 3)).astype(np.float32) * 0.5, "w")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="nearest"),
    ]
    path = _save(tmp_path, "resize16", nodes, {"x": (1, 3, 4, 5)}, ("y", (1, 3, 8, 10)), [w, scales])
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = {n.op: n for n in m.graph.nodes}
    assert "resize_nearest" in ops and "requantize" not in ops, list(ops)
    assert m.graph.tensors[ops["resize_nearest"].inputs[0]].dtype == "int16"
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=24)
    assert result.bit_exact == result.samples == 24


def test_act_bits_16_sigmoid_sharing_a_wide_group_is_a_table(tmp_path: Path) -> None:
    """Sigmoid concatenated with an activation beyond [-1, 1]: the shared output group is not
    pinned to 2^-15 (that would clip the partner), so the sigmoid is an int16 table."""
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(4)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Concat", ["s", "c"], ["y"], axis=1),
    ]
    path = _save(tmp_path, "sigcat", nodes, {"x": (1, 3, 5, 5)}, ("y", (1, 8, 5, 5)), [w])
    m = qcompile.compile(path, tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=16)
    ops = [n.op for n in m.graph.nodes]
    assert "lut" in ops and "logistic" not in ops, ops
    result = verify(tmp_path / "out", data=tmp_path / "calib.npz", limit=24)
    assert result.bit_exact == result.samples == 24
    assert result.outputs[0].sqnr_db > 40, result.outputs[0].sqnr_db
