"""ONNX GRU end to end: onnx.helper GRUs of every direction and reset form (float IR == onnxruntime,
compiled C bit-exact with the reference, int8 vs float SQNR), refusals naming the node, and the
PyTorch GRU keyword models of tests/data/gru (whole utterance, one frame per call with
``--stateful h=h_next``, two bidirectional layers) on the shared KWS samples, and batch rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcompile
from qcompile.errors import UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx
from qcompile.reference.executor import run_float
from qcompile.tools.verify import verify

DATA = Path(__file__).resolve().parents[1] / "data" / "gru"
KWS = Path(__file__).resolve().parents[3] / "shared" / "data" / "kws_mfcc_dev500.npz"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def make_gru(path: Path, *, direction: str, lbr: int, h0: bool, y: bool = True, acts=None, steps=6, seed=0):
    """x [1, T, 5] -> Transpose -> GRU(hidden 7) -> batch-first y [1, T, D, 7] and y_h [1, D, 7];
    returns calibration data (64 samples)."""
    rng = np.random.default_rng(seed)
    d, hidden = (2 if direction == "bidirectional" else 1), 7
    inits = [
        numpy_helper.from_array((rng.standard_normal((d, 3 * hidden, 5)) * 0.5).astype(np.float32), "W"),
        numpy_helper.from_array((rng.standard_normal((d, 3 * hidden, hidden)) * 0.5).astype(np.float32), "R"),
        numpy_helper.from_array((rng.standard_normal((d, 6 * hidden)) * 0.3).astype(np.float32), "B"),
    ]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, steps, 5])]
    if h0:
        ins.append(helper.make_tensor_value_info("h0", TensorProto.FLOAT, [d, 1, hidden]))
    extra = {} if acts is None else {"activations": acts}
    nodes = [
        helper.make_node("Transpose", ["x"], ["X"], perm=[1, 0, 2]),
        helper.make_node(
            "GRU",
            ["X", "W", "R", "B", "", "h0" if h0 else ""],
            ["Y" if y else "", "Y_h"],
            name="gru0",
            hidden_size=hidden,
            direction=direction,
            linear_before_reset=lbr,
            **extra,
        ),  # fmt: skip
        helper.make_node("Transpose", ["Y_h"], ["y_h"], perm=[1, 0, 2]),
    ]
    outs = [helper.make_tensor_value_info("y_h", TensorProto.FLOAT, [1, d, hidden])]
    if y:
        nodes.append(helper.make_node("Transpose", ["Y"], ["y"], perm=[2, 0, 1, 3]))
        outs.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, steps, d, hidden]))
    model = helper.make_model(
        helper.make_graph(nodes, "gru", ins, outs, inits), opset_imports=[helper.make_opsetid("", 14)]
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    data = {"x": rng.standard_normal((64, 1, steps, 5)).astype(np.float32)}
    if h0:
        data["h0"] = np.tanh(rng.standard_normal((64, d, 1, hidden))).astype(np.float32)
    return data


CASES = [
    dict(direction="forward", lbr=1, h0=True),
    dict(direction="reverse", lbr=0, h0=True),
    dict(direction="bidirectional", lbr=1, h0=False),
    dict(direction="bidirectional", lbr=0, h0=False, y=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['direction']}-lbr{c['lbr']}")
def test_float_ir_equals_onnxruntime(tmp_path: Path, case: dict) -> None:
    import onnxruntime as ort

    data = make_gru(tmp_path / "g.onnx", **case)
    graph = load_onnx(str(tmp_path / "g.onnx"))
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    feeds = {k: v[0] for k, v in data.items()}
    want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))
    got = run_float(graph, [feeds[graph.tensors[i].source_name] for i in graph.inputs])
    for name in graph.outputs:
        np.testing.assert_allclose(got[name], want[graph.tensors[name].source_name], atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['direction']}-lbr{c['lbr']}")
def test_compiled_gru_is_bit_exact(tmp_path: Path, case: dict) -> None:
    np.savez(tmp_path / "calib.npz", **make_gru(tmp_path / "g.onnx", **case))
    qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    result = verify(tmp_path / "out", limit=32)
    assert result.ok, result.diagnosis
    assert all(o.sqnr_db > 30 for o in result.outputs), [(o.name, o.sqnr_db) for o in result.outputs]


@pytest.mark.parametrize("case", CASES[:2], ids=lambda c: f"{c['direction']}-lbr{c['lbr']}")
def test_compiled_gru_folder_is_sanitizer_clean(tmp_path: Path, case: dict) -> None:
    """The generated folder (the GRU's scratch in the arena, h0 as an input) built with ASan +
    UBSan, every buffer at the end of a guarded mapping, equal to the reference."""
    from c_driver import check_model_sanitized

    np.savez(tmp_path / "calib.npz", **make_gru(tmp_path / "g.onnx", **case))
    qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    check_model_sanitized(tmp_path / "out", tmp_path, samples=4)


def test_other_activations_are_refused_naming_the_node(tmp_path: Path) -> None:
    data = make_gru(tmp_path / "g.onnx", direction="forward", lbr=0, h0=False, acts=["HardSigmoid", "Tanh"])
    np.savez(tmp_path / "calib.npz", **data)
    with pytest.raises(UnsupportedModelError, match=r"(?i)gru0.*hardsigmoid"):
        qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")


def _kws() -> np.ndarray:
    if not KWS.exists():
        pytest.skip(f"{KWS} is absent (the shared KWS samples)")
    d = np.load(KWS)
    return (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"]) / 10.0


def test_pytorch_gru_keyword_model(tmp_path: Path) -> None:
    x = _kws()
    np.savez(tmp_path / "calib.npz", x=x[:200])
    np.savez(tmp_path / "test.npz", x=x[400:])
    qcompile.compile(DATA / "gru_kws.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    result = verify(tmp_path / "out", data=tmp_path / "test.npz")
    assert result.ok and result.samples == 100, result.diagnosis
    assert result.outputs[0].sqnr_db > 35  # measured 38.76 dB (bench/bench_gru.py)


def test_pytorch_two_layer_bidirectional_gru(tmp_path: Path) -> None:
    """tests/data/gru/gru_bidir.onnx: a second GRU layer reading the first's int8 ``Y`` (both
    directions), a head over the two final states."""
    x = _kws()
    np.savez(tmp_path / "calib.npz", x=x[:200])
    np.savez(tmp_path / "test.npz", x=x[400:])
    qcompile.compile(DATA / "gru_bidir.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    result = verify(tmp_path / "out", data=tmp_path / "test.npz")
    assert result.ok and result.samples == 100, result.diagnosis
    assert result.outputs[0].sqnr_db > 39  # measured 42.22 dB (bench/bench_gru.py)


def test_pytorch_gru_streaming_with_stateful_state(tmp_path: Path) -> None:
    """One frame per call, the GRU state kept in C between calls (bench_gru's streaming run): 100
    steps bit-exact, and ``eval`` measures the same stream as ``verify`` (data without the state)."""
    from bench_gru import stream

    result = stream(_kws(), tmp_path)
    assert result["bit_exact"] == result["n"] == 100
    assert result["verify"] > 33  # measured 35.16 dB (28.88 with the state carried as int8)
    assert result["eval"] == pytest.approx(result["verify"], abs=1e-6)


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m55"])
@pytest.mark.parametrize(
    "case", [dict(direction="bidirectional", lbr=1, h0=False), dict(direction="reverse", lbr=0, h0=True)], ids=str
)
def test_gru_on_qemu_cortex_m_is_bit_exact(tmp_path: Path, target: str, case: dict) -> None:
    """GRUs compiled for Cortex-M7 (the dsp family's SMLAD kernel) and Cortex-M55 (the mve family's
    Helium kernel) and run under QEMU: the reference's bits."""
    import shutil

    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    from qcompile.targets import load_target
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu

    np.savez(tmp_path / "calib.npz", **make_gru(tmp_path / "g.onnx", **case))
    qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz", target=target)
    kernels = next((tmp_path / "out").glob("*_kernels.c")).read_text()
    assert ("vmladavaq_s16(" if target == "cortex-m55" else "qc_smlad(") in kernels
    result = verify_on_qemu(tmp_path / "out", load_target(target), limit=8).result
    assert result.ok and result.samples == 8, result.diagnosis


def _batched_gru(path: Path, batch: int, steps: int = 6, hidden: int = 7) -> None:
    """x [1, B, T, 5] -> [T, B, 5] -> bidirectional GRU with ``B`` batch rows -> y_h [1, B, 2, 7]:
    one model sample holds ``B`` sequences (qcompile's first axis is the sample axis)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array((rng.standard_normal((2, 3 * hidden, 5)) * 0.5).astype(np.float32), "W"),
        numpy_helper.from_array((rng.standard_normal((2, 3 * hidden, hidden)) * 0.5).astype(np.float32), "R"),
        numpy_helper.from_array((rng.standard_normal((2, 6 * hidden)) * 0.3).astype(np.float32), "B"),
        numpy_helper.from_array(np.array([batch, steps, 5], np.int64), "s_in"),
        numpy_helper.from_array(np.array([1, batch, 2, hidden], np.int64), "s_out"),
    ]
    nodes = [
        helper.make_node("Reshape", ["x", "s_in"], ["xb"]),
        helper.make_node("Transpose", ["xb"], ["X"], perm=[1, 0, 2]),
        helper.make_node(
            "GRU",
            ["X", "W", "R", "B"],
            ["", "Y_h"],
            name="gru0",
            hidden_size=hidden,
            direction="bidirectional",
            linear_before_reset=1,
        ),  # fmt: skip
        helper.make_node("Transpose", ["Y_h"], ["yt"], perm=[1, 0, 2]),
        helper.make_node("Reshape", ["yt", "s_out"], ["y_h"]),
    ]
    graph = helper.make_graph(
        nodes, "gru_batch",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, batch, steps, 5])],
        [helper.make_tensor_value_info("y_h", TensorProto.FLOAT, [1, batch, 2, hidden])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_compiled_gru_with_batch_rows(tmp_path: Path) -> None:
    """A GRU with B = 3 batch rows compiles bit-exact, and its rows are the codes the B = 1 model
    (same weights, calibrated on the same sequences, so the same ranges) gives each sequence."""
    seqs = np.random.default_rng(1).standard_normal((96, 6, 5)).astype(np.float32)
    _batched_gru(tmp_path / "b3.onnx", 3)
    _batched_gru(tmp_path / "b1.onnx", 1)
    np.savez(tmp_path / "c3.npz", x=seqs.reshape(32, 1, 3, 6, 5))
    np.savez(tmp_path / "c1.npz", x=seqs.reshape(96, 1, 1, 6, 5))
    b3 = qcompile.compile(tmp_path / "b3.onnx", tmp_path / "o3", calib=tmp_path / "c3.npz")
    b1 = qcompile.compile(tmp_path / "b1.onnx", tmp_path / "o1", calib=tmp_path / "c1.npz")
    result = verify(tmp_path / "o3", limit=32)
    assert result.ok and result.samples == 32, result.diagnosis
    assert result.outputs[0].sqnr_db > 30, result.outputs[0].sqnr_db
    got = b3.run(b3.quantize(seqs.reshape(32, 1, 3, 6, 5))).reshape(96, -1)
    np.testing.assert_array_equal(got, b1.run(b1.quantize(seqs.reshape(96, 1, 1, 6, 5))).reshape(96, -1))
