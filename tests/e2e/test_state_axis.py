"""Recurrent state shaped [layers, batch, hidden] (PyTorch's h0/c0) end to end: the 2-layer
GRU and LSTM step models of tests/data/stateaxis calibrate on recorded states, verify
bit-exact, stream 100 steps with ``--stateful`` bit-exact, and the Python API runs them.
Before qcompile.sample_axis every tool took the first dim (2, the layers) as the samples axis
and refused the recorded states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qcompile
from qcompile.errors import QCompileError
from qcompile.quant.stateful import run_stream
from qcompile.tools.report import analyse
from qcompile.tools.verify import verify

DATA = Path(__file__).resolve().parents[1] / "data" / "stateaxis"
PAIRS = {"gru2_step": [("h0", "hn")], "lstm2_step": [("h0", "hn"), ("c0", "cn")]}


def _frames(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, 1, 10)).astype(np.float32)


def _calib(model: str, tmp_path: Path, n: int = 120) -> Path:
    """Frames of one stream and the float states recorded before each one (zeros first)."""
    frames = _frames(n, 0)
    states, _ = run_stream(DATA / f"{model}.onnx", {"x": frames}, PAIRS[model])
    assert all(s.shape == (n, 2, 1, 16) for s in states.values())
    path = tmp_path / f"{model}_calib.npz"
    np.savez(path, x=frames, **states)
    return path


def test_layers_first_state_calibrates_and_verifies(tmp_path: Path) -> None:
    calib = _calib("gru2_step", tmp_path)
    model = qcompile.compile(DATA / "gru2_step.onnx", tmp_path / "g", calib=calib)
    h0 = next(i for i in model.inputs if i.name == "h0")
    assert h0.shape == (2, 1, 16)
    result = verify(tmp_path / "g")
    assert result.ok and result.samples == 120
    sqnr = {o.name: o.sqnr_db for o in result.outputs}
    assert sqnr["logits"] > 30 and sqnr["hn"] > 30, sqnr  # hn compared whole: both layers
    # the Python API: a batch of D-first states, and a single sample in the model's own shape
    data = np.load(calib)
    x = {"x": data["x"][:5], "h0": data["h0"][:5]}
    ran, ref = model.run(model.quantize(x)), model.reference(model.quantize(x))
    assert ran["hn"].shape == (5, 2, 1, 16)
    np.testing.assert_array_equal(ran["hn"], ref["hn"])
    one = model.run(model.quantize({"x": data["x"][3], "h0": data["h0"][3]}))
    np.testing.assert_array_equal(one["hn"], ran["hn"][3:4])
    report = analyse(tmp_path / "g", limit=4)  # per-layer SQNR: the GRU layers fed whole states
    assert {"gru", "fully_connected"} <= {e.op for e in report.layers}


@pytest.mark.parametrize("name", ["gru2_step", "lstm2_step"])
def test_stateful_stream_of_layers_first_states(tmp_path: Path, name: str) -> None:
    calib = _calib(name, tmp_path)
    qcompile.compile(DATA / f"{name}.onnx", tmp_path / "s", calib=calib, stateful=PAIRS[name])
    np.savez(tmp_path / "stream.npz", x=_frames(100, 1))
    result = verify(tmp_path / "s", data=tmp_path / "stream.npz")
    assert result.ok and result.samples == 100
    assert result.outputs[0].name == "logits" and result.outputs[0].sqnr_db > 30, result.outputs


def test_state_array_without_its_layers_axis_is_refused(tmp_path: Path) -> None:
    frames = _frames(20, 0)
    np.savez(tmp_path / "bad.npz", x=frames, h0=np.zeros((20, 1, 16), np.float32))
    with pytest.raises(QCompileError) as err:
        qcompile.compile(DATA / "gru2_step.onnx", tmp_path / "g", calib=tmp_path / "bad.npz")
    message = str(err.value)
    assert "array 'h0' has shape (20, 1, 16); expected (N, 2, 1, 16) for input 'h0'" in message
    assert "np.stack" in message


def test_dynamic_batch_symbol_on_the_state_axis_is_the_batch(tmp_path: Path) -> None:
    """Exported with ``dynamic_axes`` (``x [B, 1, 10]``, ``h0 [2, B, 16]``): the symbol ``B`` of
    x's axis 0 is the batch, so h0's axis 1 becomes 1 too, without ``--input-shape``; a symbol
    no axis 0 carries still needs the flag."""
    import onnx

    model = onnx.load(DATA / "gru2_step.onnx")
    dims = {vi.name: vi.type.tensor_type.shape.dim for vi in model.graph.input}
    dims["x"][0].dim_param = "B"
    dims["h0"][1].dim_param = "B"
    onnx.save(model, tmp_path / "dyn.onnx")
    calib = _calib("gru2_step", tmp_path, n=40)
    qcompile.compile(tmp_path / "dyn.onnx", tmp_path / "g", calib=calib)
    result = verify(tmp_path / "g")
    assert result.ok and result.samples == 40 and min(o.sqnr_db for o in result.outputs) > 30
    dims["h0"][1].dim_param = "S"
    onnx.save(model, tmp_path / "other.onnx")
    with pytest.raises(QCompileError, match=r"'S' at axis 1: fix them with --input-shape h0=2,\?,16"):
        qcompile.compile(tmp_path / "other.onnx", tmp_path / "o", calib=calib)


def test_int8_gather_island_shares_its_input_parameters_under_act_bits_16(tmp_path: Path) -> None:
    """``hn[-1]`` is a gather, which has no 16x8 kernel and copies int8 bytes: the requantize in
    front of it must give its input the gather's own output parameters. When it took the
    input's calibrated range instead (layer 0's scale for layer 1's bytes) logits fell to 9.5 dB."""
    calib = _calib("gru2_step", tmp_path)
    qcompile.compile(DATA / "gru2_step.onnx", tmp_path / "g16", calib=calib, act_bits=16)
    result = verify(tmp_path / "g16")
    sqnr = {o.name: o.sqnr_db for o in result.outputs}
    assert result.ok and sqnr["logits"] > 40, sqnr
