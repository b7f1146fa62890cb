"""Calibration data loading, streamed observers and onnxruntime-based ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from qcompile.errors import QCompileError
from qcompile.frontends.onnx_import import load_onnx
from qcompile.quant.calibration import (
    MinMaxObserver,
    PercentileObserver,
    calibrate,
    float_outputs,
    load_calibration_data,
)


def _model(path: Path, batch: int | str = 1, count_include_pad: int = 0) -> Path:
    w = np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node(
            "AveragePool", ["r"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=count_include_pad
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w, "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_load_data_shapes_and_errors(tmp_path: Path) -> None:
    g = load_onnx(_model(tmp_path / "m.onnx"))
    data = np.random.default_rng(1).normal(size=(5, 3, 6, 6)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=data)
    np.savez(tmp_path / "b.npz", whatever=data[:, None])
    for f in ("a.npz", "b.npz"):
        got = load_calibration_data(tmp_path / f, g)
        assert list(got) == ["x"] and got["x"].shape == (5, 3, 6, 6)
        np.testing.assert_array_equal(got["x"], data)
    np.savez(tmp_path / "bad.npz", x=data[:, :, :5])
    with pytest.raises(QCompileError, match=r"bad.npz: array 'x' has shape \(5, 3, 5, 6\); expected \(N, 3, 6, 6\)"):
        load_calibration_data(tmp_path / "bad.npz", g)
    np.savez(tmp_path / "int.npz", x=data.astype(np.int8))
    with pytest.raises(QCompileError, match="dtype"):
        load_calibration_data(tmp_path / "int.npz", g)
    nan = data.copy()
    nan[0, 0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=nan)
    with pytest.raises(QCompileError, match="NaN"):
        load_calibration_data(tmp_path / "nan.npz", g)
    np.savez(tmp_path / "two.npz", a=data, b=data)
    with pytest.raises(QCompileError, match="'x'"):
        load_calibration_data(tmp_path / "two.npz", g)


def test_minmax_observer_streams() -> None:
    obs = MinMaxObserver()
    for chunk in np.array_split(np.linspace(-3, 5, 100), 7):
        obs.update(chunk)
    assert obs.range() == (-3.0, 5.0)


def test_percentile_observer_matches_numpy_while_growing() -> None:
    rng = np.random.default_rng(3)
    chunks = [rng.normal(0, s, 20000) + m for s, m in ((0.01, 0), (1, 3), (10, -50), (0.5, 100))]
    obs = PercentileObserver(99.0, bins=4096)
    for c in chunks:
        obs.update(c)
    allv = np.concatenate(chunks)
    lo, hi = obs.range()
    span = allv.max() - allv.min()
    assert abs(lo - np.percentile(allv, 1.0)) < span / 4096 * 4
    assert abs(hi - np.percentile(allv, 99.0)) < span / 4096 * 4
    assert obs.counts.sum() == allv.size
    full = PercentileObserver(100.0)
    full.update(allv)
    assert full.range() == (allv.min(), allv.max())


@pytest.mark.parametrize("batch", [1, "N"])
def test_calibrate_ranges_every_tensor(tmp_path: Path, batch) -> None:
    path = _model(tmp_path / "m.onnx", batch=batch, count_include_pad=1)
    g = load_onnx(path)
    data = {"x": np.random.default_rng(2).normal(size=(40, 3, 6, 6)).astype(np.float32)}
    ranges = calibrate(path, g, data, progress=False)
    assert set(ranges) == {t.name for t in g.activations()}
    assert ranges[g.inputs[0]] == (float(data["x"].min()), float(data["x"].max()))
    out = float_outputs(path, data)["y"]
    assert out.shape == (40, 4, 6, 6)
    assert ranges[g.outputs[0]] == pytest.approx((float(out.min()), float(out.max())), rel=1e-6)
    pad_tensor = [n for n in g.nodes if n.op == "pad"][0].outputs[0]  # IR-only, observed via the float IR
    assert ranges[pad_tensor][0] == 0.0 and ranges[pad_tensor][1] > 0
    pct = calibrate(path, g, data, observer="percentile", percentile=99.0, progress=False)
    assert pct[g.outputs[0]][1] <= ranges[g.outputs[0]][1]


def test_calibrate_kws(kws_onnx: Path, kws_data: Path) -> None:
    g = load_onnx(kws_onnx)
    with np.load(kws_data) as d:
        x = ((d["x"][:20].astype(np.float32) - d["in_zero_point"]) * d["in_scale"])[:, None]
    ranges = calibrate(kws_onnx, g, {"input_1": x.astype(np.float32)}, progress=False)
    relu_outputs = [n.outputs[0] for n in g.nodes if n.op in ("conv2d", "depthwise_conv2d")]
    assert all(ranges[t][0] == 0.0 for t in relu_outputs)  # fused relus: calibration saw clamped values
