"""ONNX LSTM end to end: onnx.helper LSTMs of every direction, with initial states as inputs,
constants or absent and any subset of Y, Y_h, Y_c (float IR == onnxruntime, compiled C bit-exact
with the reference, int8 vs float SQNR; refusals in tests/frontends/test_onnx_lstm.py), and the PyTorch LSTM keyword
models of tests/data/lstm (forward, bidirectional, two layers, and one frame per call with both
states kept in C) on the shared KWS samples."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcompile
from qcompile.frontends.onnx_import import load_onnx
from qcompile.reference.executor import run_float
from qcompile.tools.verify import verify

DATA = Path(__file__).resolve().parents[1] / "data" / "lstm"
KWS = Path(__file__).resolve().parents[3] / "shared" / "data" / "kws_mfcc_dev500.npz"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
HIDDEN, INPUTS = 7, 5


def make_lstm(
    path: Path, *, direction: str, states: str = "none", outs: str = "y,y_h,y_c", steps: int = 6, seed: int = 0,
    extra_inputs: dict[int, str] | None = None, **attrs,
) -> dict[str, np.ndarray]:  # fmt: skip
    """x [1, T, 5] -> Transpose -> LSTM(hidden 7) -> the outputs in ``outs`` (batch first:
    ``y`` [1, T, D, 7], ``y_h`` / ``y_c`` [1, D, 7]); ``states``: "input" (graph inputs h, c [1, D, 7]), "const"
    (non-zero constants) or "none". Returns calibration data (64 samples)."""
    rng = np.random.default_rng(seed)
    d = 2 if direction == "bidirectional" else 1
    inits = [
        numpy_helper.from_array((rng.standard_normal((d, 4 * HIDDEN, INPUTS)) * 0.5).astype(np.float32), "W"),
        numpy_helper.from_array((rng.standard_normal((d, 4 * HIDDEN, HIDDEN)) * 0.5).astype(np.float32), "R"),
        numpy_helper.from_array((rng.standard_normal((d, 8 * HIDDEN)) * 0.3).astype(np.float32), "B"),
    ]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, steps, INPUTS])]
    lstm_in = ["X", "W", "R", "B", "", "", ""]
    if states == "input":
        ins += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, d, HIDDEN]) for n in ("h", "c")]
        lstm_in[5:7] = ["h0", "c0"]  # the inputs batch first (qcompile's samples axis), transposed
    elif states == "const":
        for n, amp in (("h0", 0.5), ("c0", 2.0)):
            inits.append(
                numpy_helper.from_array((np.tanh(rng.standard_normal((d, 1, HIDDEN))) * amp).astype(np.float32), n)
            )
        lstm_in[5:7] = ["h0", "c0"]
    for k, name in (extra_inputs or {}).items():
        lstm_in += [""] * (k + 1 - len(lstm_in))
        lstm_in[k] = name
    wanted = outs.split(",")
    lstm_out = [n.upper() if n in wanted else "" for n in ("y", "y_h", "y_c")]
    nodes = [
        helper.make_node("Transpose", ["x"], ["X"], perm=[1, 0, 2]),
        *[helper.make_node("Transpose", [n], [f"{n}0"], perm=[1, 0, 2]) for n in ("h", "c") if states == "input"],
        helper.make_node("LSTM", lstm_in, lstm_out, name="lstm0", hidden_size=HIDDEN, direction=direction, **attrs),
    ]
    outputs = []
    if "y" in wanted:
        nodes.append(helper.make_node("Transpose", ["Y"], ["y"], perm=[2, 0, 1, 3]))
        outputs.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, steps, d, HIDDEN]))
    for n in ("y_h", "y_c"):
        if n in wanted:
            nodes.append(helper.make_node("Transpose", [n.upper()], [n], perm=[1, 0, 2]))  # batch first for verify
            outputs.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, d, HIDDEN]))
    graph = helper.make_graph(nodes, "lstm", ins, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(path))
    data = {"x": rng.standard_normal((64, 1, steps, INPUTS)).astype(np.float32)}
    if states == "input":
        data["h"] = (np.tanh(rng.standard_normal((64, 1, d, HIDDEN))) * 0.5).astype(np.float32)
        data["c"] = (np.tanh(rng.standard_normal((64, 1, d, HIDDEN))) * 2.0).astype(np.float32)
    return data


CASES = [
    dict(direction="forward", states="input"),
    dict(direction="reverse", states="const", outs="y,y_c"),
    dict(direction="bidirectional", states="none"),
    dict(direction="bidirectional", states="input", outs="y_h,y_c"),
    dict(direction="forward", states="none", outs="y_h"),
]


def _id(c: dict) -> str:
    return f"{c['direction']}-{c['states']}-{c.get('outs', 'all').replace(',', '+')}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_float_ir_equals_onnxruntime(tmp_path: Path, case: dict) -> None:
    import onnxruntime as ort

    data = make_lstm(tmp_path / "l.onnx", **case)
    graph = load_onnx(str(tmp_path / "l.onnx"))
    sess = ort.InferenceSession(str(tmp_path / "l.onnx"), providers=["CPUExecutionProvider"])
    feeds = {k: v[0] for k, v in data.items()}
    want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))
    got = run_float(graph, [feeds[graph.tensors[i].source_name] for i in graph.inputs])
    assert len(graph.outputs) == len(want)
    for name in graph.outputs:
        np.testing.assert_allclose(got[name].reshape(-1), want[graph.tensors[name].source_name].reshape(-1), atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_compiled_lstm_is_bit_exact(tmp_path: Path, case: dict) -> None:
    np.savez(tmp_path / "calib.npz", **make_lstm(tmp_path / "l.onnx", **case))
    qcompile.compile(tmp_path / "l.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    result = verify(tmp_path / "out", limit=32)
    assert result.ok, result.diagnosis
    assert all(o.sqnr_db > 25 for o in result.outputs), [(o.name, o.sqnr_db) for o in result.outputs]


def test_compiled_lstm_folder_is_sanitizer_clean(tmp_path: Path) -> None:
    """A bidirectional LSTM with constant initial states, built with ASan + UBSan (the sanitized
    driver moves int8 I/O only: Y_c and a c input are int16)."""
    from c_driver import check_model_sanitized

    case = dict(direction="bidirectional", states="const", outs="y,y_h")
    np.savez(tmp_path / "calib.npz", **make_lstm(tmp_path / "l.onnx", **case))
    qcompile.compile(tmp_path / "l.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    check_model_sanitized(tmp_path / "out", tmp_path, samples=4)


def _kws() -> np.ndarray:
    if not KWS.exists():
        pytest.skip(f"{KWS} is absent (the shared KWS samples)")
    from bench_gru import kws_frames

    return kws_frames()


@pytest.mark.parametrize(("name", "floor"), [("lstm_kws", 33), ("lstm_kws_bi", 35), ("lstm_kws_2l", 34)])
def test_pytorch_lstm_keyword_models(tmp_path: Path, name: str, floor: float) -> None:
    """Measured 35.59 / 38.28 / 37.15 dB (bench/bench_lstm.py)."""
    x = _kws()
    np.savez(tmp_path / "calib.npz", x=x[:200])
    np.savez(tmp_path / "test.npz", x=x[400:])
    qcompile.compile(DATA / f"{name}.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    result = verify(tmp_path / "out", data=tmp_path / "test.npz")
    assert result.ok and result.samples == 100, result.diagnosis
    assert result.outputs[0].sqnr_db > floor


def test_pytorch_lstm_streaming_with_stateful_h_and_c(tmp_path: Path) -> None:
    """One frame per call, h (int8) and c (int16) kept in C between calls: 100 steps bit-exact."""
    from bench_lstm import stream

    result = stream(_kws(), tmp_path)
    assert result["bit_exact"] == result["n"] == 100
    assert result["verify"] > 28  # measured 33.62 dB
    assert result["eval"] == pytest.approx(result["verify"], abs=1e-6)


def test_lstm_on_qemu_cortex_m7_is_bit_exact(tmp_path: Path) -> None:
    """A bidirectional LSTM compiled for Cortex-M7 (the dsp family's LSTM kernel with the ONNX
    LSTM's per-row requantisation table) and run under QEMU: the reference's bits."""
    import shutil

    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    from qcompile.targets import load_target
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu

    data = make_lstm(tmp_path / "l.onnx", direction="bidirectional", states="input")
    np.savez(tmp_path / "calib.npz", **data)
    qcompile.compile(tmp_path / "l.onnx", tmp_path / "out", calib=tmp_path / "calib.npz", target="cortex-m7")
    sources = "".join(p.read_text() for p in (tmp_path / "out").glob("*.c"))
    assert "_dsp_rq[24 * j" in sources  # per-row requantisation, in the DSP kernel
    result = verify_on_qemu(tmp_path / "out", load_target("cortex-m7"), limit=8).result
    assert result.ok and result.samples == 8, result.diagnosis
