"""PTQ options: bias correction, cross-layer equalization, AdaRound, and every option end to
end through the command line with a bit-exact verify."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_runner import run_cli
from onnx import TensorProto, helper

from qcompile.compiler import CompileOptions, import_model, quantize_model
from qcompile.quant.adaround import learn_rounding
from qcompile.quant.calibration import load_calibration_data
from qcompile.quant.equalize import equalizable_pairs, equalize
from qcompile.quant.layerwise import float_activations, ir_sample_inputs
from qcompile.quant.quantize import WEIGHT_AXIS, QuantConfig, quantize_weights, weight_params
from qcompile.reference.executor import run_quantized


def _save(path: Path, nodes, inits: dict[str, np.ndarray], c: int, hw: int = 8) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def shifted_model(path: Path) -> Path:
    """A conv whose weights all round the same way: per output channel one weight sets the
    scale (127 steps) and the 71 others are 0.4 of a step, so round-to-nearest zeroes them
    and, on positive inputs, shifts every output by the same amount."""
    rng = np.random.default_rng(0)
    w = np.full((4, 8, 3, 3), 0.4 / 127.0)
    w[:, 0, 1, 1] = 1.0
    w2 = rng.normal(size=(3, 4, 1, 1)) * 0.5
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "w2"], ["y"]),
    ]
    return _save(path, nodes, {"w": w, "b": np.zeros(4), "w2": w2}, c=8)


def depthwise_model(path: Path) -> Path:
    """1x1 conv -> ReLU -> 3x3 depthwise -> ReLU -> 1x1 conv, with the first conv's output
    channels scaled from 1/30 to 30 and the depthwise weights inversely: the float function
    is a plain network's, the int8 grid of the middle tensor is dominated by one channel."""
    rng = np.random.default_rng(1)
    c = 8
    gain = np.geomspace(1 / 30, 30, c)
    w1 = rng.normal(size=(c, 3, 1, 1)) * gain[:, None, None, None]
    b1 = rng.normal(size=c) * 0.1 * gain
    wd = rng.normal(size=(c, 1, 3, 3)) / gain[:, None, None, None]
    w3 = rng.normal(size=(4, c, 1, 1))
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Conv", ["r", "wd"], ["d"], group=c, pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["d"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "w3"], ["y"]),
    ]
    return _save(path, nodes, {"w1": w1, "b1": b1, "wd": wd, "w3": w3}, c=3)


def _calib(c: int, n: int = 48, positive: bool = False) -> dict[str, np.ndarray]:
    x = np.random.default_rng(2).normal(size=(n, c, 8, 8))
    return {"x": (np.abs(x) if positive else x).astype(np.float32)}


def _int8_vs_float(model: Path, calib: dict[str, np.ndarray], **options) -> tuple[np.ndarray, np.ndarray]:
    """(int8 reference output dequantized, float output) of the IR on the calibration samples."""
    opts = CompileOptions(calib=calib, progress=False, **options)
    qgraph = quantize_model(model, opts)
    graph = import_model(model)
    samples = ir_sample_inputs(graph, load_calibration_data(calib, graph), 64)
    out = graph.outputs[0]
    floats = np.stack([v[out] for v in float_activations(graph, samples)])
    qin, qout = qgraph.tensors[qgraph.inputs[0]].quant, qgraph.tensors[out].quant
    ints = np.stack([qout.dequantize(run_quantized(qgraph, [qin.quantize(s[graph.inputs[0]])])[out]) for s in samples])
    return ints, floats


def _sqnr(ints: np.ndarray, floats: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(floats**2) / np.sum((ints - floats) ** 2)))


def test_bias_correction_removes_a_deliberate_shift(tmp_path: Path) -> None:
    model = shifted_model(tmp_path / "m.onnx")
    calib = _calib(8, positive=True)
    before = _int8_vs_float(model, calib)
    after = _int8_vs_float(model, calib, bias_correction=True)
    shift_before = np.abs(np.mean(before[0] - before[1], axis=(0, 1, 2, 3)))
    shift_after = np.abs(np.mean(after[0] - after[1], axis=(0, 1, 2, 3)))
    assert np.all(shift_before > 0.05)
    assert np.all(shift_after < shift_before / 5)
    assert _sqnr(*after) > _sqnr(*before) + 3


def test_equalization_keeps_the_float_function_and_raises_sqnr(tmp_path: Path) -> None:
    model = depthwise_model(tmp_path / "m.onnx")
    calib = _calib(3)
    graph = import_model(model)
    samples = ir_sample_inputs(graph, load_calibration_data(calib, graph), 16)
    before = float_activations(graph, samples)
    assert len(equalizable_pairs(graph)) == 2
    pairs = equalize(graph)
    assert len(pairs) == 2
    after = float_activations(graph, samples)
    out = graph.outputs[0]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_allclose(a[out], b[out], rtol=1e-5, atol=1e-5)
    plain = _sqnr(*_int8_vs_float(model, calib))
    equalized = _sqnr(*_int8_vs_float(model, calib, equalize=True))
    assert equalized > plain + 3, (plain, equalized)


def test_equalization_skips_relu6_pairs(tmp_path: Path) -> None:
    model = depthwise_model(tmp_path / "m.onnx")
    m = onnx.load(model)
    m.graph.node[1].op_type = "Clip"
    m.graph.node[1].input.extend(["lo", "hi"])
    m.graph.initializer.extend([onnx.numpy_helper.from_array(np.float32(v), n) for n, v in (("lo", 0.0), ("hi", 6.0))])
    onnx.save(m, tmp_path / "relu6.onnx")
    graph = import_model(tmp_path / "relu6.onnx")
    assert [p[0].op for p in equalizable_pairs(graph)] == ["depthwise_conv2d"]


@pytest.mark.parametrize("op", ["fully_connected", "conv2d", "depthwise_conv2d"])
def test_adaround_lowers_reconstruction_error(op: str) -> None:
    rng = np.random.default_rng(3)
    if op == "depthwise_conv2d":
        w, x = rng.normal(size=(3, 3, 6)), rng.normal(size=(512, 9, 6)) + 0.5
        forward = lambda wq: np.einsum("pkc,kc->pc", x, wq.reshape(9, 6))  # noqa: E731
    else:
        shape = (6, 16) if op == "fully_connected" else (6, 2, 2, 4)
        w, x = rng.normal(size=shape), rng.normal(size=(512, 16)) + 0.5
        forward = lambda wq: x @ wq.reshape(6, -1).T  # noqa: E731
    q = weight_params(w, WEIGHT_AXIS[op])
    learned = learn_rounding(op, w, q.scale, x, iterations=300)
    nearest = quantize_weights(w, q)
    errors = [np.mean((forward(q.dequantize(c)) - forward(w)) ** 2) for c in (learned, nearest)]
    assert learned.dtype == np.int8 and learned.shape == w.shape
    assert np.all(np.abs(learned.astype(int) - nearest) <= 1)  # only the rounding direction changes
    # 9 weights per depthwise channel leave little to choose; a conv or FC row has 16
    assert errors[0] < (0.98 if op == "depthwise_conv2d" else 0.8) * errors[1], errors


def test_adaround_codes_reach_the_int8_graph(tmp_path: Path) -> None:
    model = shifted_model(tmp_path / "m.onnx")
    calib = _calib(8, positive=True)
    plain = quantize_model(model, CompileOptions(calib=calib, progress=False))
    rounded = quantize_model(model, CompileOptions(calib=calib, progress=False, adaround=True))
    w_plain = [t.data for t in plain.tensors.values() if t.is_constant and t.dtype == "int8" and t.data.ndim == 4]
    w_round = [t.data for t in rounded.tensors.values() if t.is_constant and t.dtype == "int8" and t.data.ndim == 4]
    assert any(not np.array_equal(a, b) for a, b in zip(w_plain, w_round, strict=True))
    assert QuantConfig().weight_codes == {}


@pytest.mark.parametrize(
    "options",
    [
        [
            "--observer",
            "mse",
            "--observer-for",
            "r=entropy",
            "--observer-for",
            "relu2=percentile",
            "--per-tensor-weights",
        ],
        ["--symmetric-activations", "--equalize", "--bias-correction", "--adaround"],
    ],
)
def test_options_end_to_end_bit_exact(tmp_path: Path, options: list[str]) -> None:
    model = depthwise_model(tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=_calib(3, n=24)["x"])
    out = tmp_path / "out"
    r = run_cli(model, "--calib", tmp_path / "calib.npz", "-o", out, *options)
    assert r.returncode == 0, r.stderr
    r = run_cli("verify", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bit-exact: 24/24" in r.stdout


def test_observer_for_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    model = depthwise_model(tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=_calib(3, n=4)["x"])
    r = run_cli(model, "--calib", tmp_path / "calib.npz", "-o", tmp_path / "out", "--observer-for", "nope=mse")
    assert r.returncode == 1
    assert "no observed tensor or node named 'nope'" in r.stderr and "known names: " in r.stderr
    assert "relu2" in r.stderr and not (tmp_path / "out").exists()
    r = run_cli(model, "--calib", tmp_path / "calib.npz", "-o", tmp_path / "out", "--observer-for", "r2=kl")
    assert r.returncode != 0 and "NAME=METHOD" in r.stderr


def test_ptq_options_are_refused_for_tflite_models(kws_tflite: Path, tmp_path: Path) -> None:
    r = run_cli(kws_tflite, "-o", tmp_path / "out", "--bias-correction", "--observer", "mse")
    assert r.returncode == 1
    assert "already quantized, so --observer mse, --bias-correction cannot apply" in r.stderr
