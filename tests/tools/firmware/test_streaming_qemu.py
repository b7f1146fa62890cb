"""Streaming models on Cortex-M7 under QEMU: the 100 samples of ``verify --qemu`` are 100 steps
of one stream (the image boots with the initial state), each equal to the reference with the
state threaded, for a TFLite model with resource variables and an ONNX cell compiled with
``--stateful``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.targets import load_target
from qcompile.tools.firmware.verify_qemu import verify_on_qemu

STREAMING = Path(__file__).resolve().parents[2] / "data" / "streaming" / "streaming_kws.tflite"
#: written by the TFLite converter (make_keras_streaming.py); its reference equals TFLM (tests/e2e)
KERAS_STREAMING = STREAMING.with_name("keras_streaming.tflite")

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="qemu-system-arm / arm-none-eabi-gcc not installed",
)


@pytest.mark.parametrize("model", [STREAMING, KERAS_STREAMING], ids=lambda p: p.stem)
def test_streaming_tflite_100_steps(tmp_path: Path, model: Path) -> None:
    compile_model(model, tmp_path / "out", CompileOptions(target="cortex-m7", progress=False))
    qemu = verify_on_qemu(tmp_path / "out", load_target("cortex-m7"), limit=100)
    assert qemu.result.ok and qemu.result.samples == 100


def test_stateful_onnx_50_steps(tmp_path: Path) -> None:
    from quant.test_stateful import _rnn

    _rnn(tmp_path / "rnn.onnx")
    rng = np.random.default_rng(5)
    np.savez(
        tmp_path / "calib.npz",
        x=rng.normal(0, 1, (60, 1, 4)).astype(np.float32),
        h=rng.uniform(-1, 1, (60, 1, 8)).astype(np.float32),
    )
    options = CompileOptions(
        target="cortex-m7", calib=tmp_path / "calib.npz", stateful=[("h", "h_next")], progress=False
    )
    compile_model(tmp_path / "rnn.onnx", tmp_path / "out", options)
    qemu = verify_on_qemu(tmp_path / "out", load_target("cortex-m7"), limit=50)
    assert qemu.result.ok and qemu.result.samples == 50


def test_tflite_lstm_stream_on_cortex_m7(tmp_path: Path) -> None:
    """bench/models/lstm_kws.tflite (TFLM's int8 LSTM, state in the state buffer) through the
    Cortex-M7 build, whose dot products take the SMLAD path: 30 calls equal to the reference
    (which tests/frontends/test_tflite_lstm.py holds equal to TFLite Micro)."""
    model = Path(__file__).resolve().parents[3] / "bench" / "models" / "lstm_kws.tflite"
    compile_model(model, tmp_path / "out", CompileOptions(target="cortex-m7", progress=False))
    assert "qc_smlad(" in (tmp_path / "out" / "lstm_kws_kernels.c").read_text()  # the dsp family's kernel
    qemu = verify_on_qemu(tmp_path / "out", load_target("cortex-m7"), limit=30)
    assert qemu.result.ok and qemu.result.samples == 30


def test_tflite_lstm_stream_on_cortex_m55(tmp_path: Path) -> None:
    """The same LSTM through the Cortex-M55 build: the ``mve`` family's Helium LSTM kernel
    (VMLADAVA.S8 gate products, templates/kernels/dsp/lstm.c.j2), 30 calls equal to the reference."""
    model = Path(__file__).resolve().parents[3] / "bench" / "models" / "lstm_kws.tflite"
    compile_model(model, tmp_path / "out", CompileOptions(target="cortex-m55", progress=False))
    assert "vmladavaq_s8(" in (tmp_path / "out" / "lstm_kws_kernels.c").read_text()
    qemu = verify_on_qemu(tmp_path / "out", load_target("cortex-m55"), limit=30)
    assert qemu.result.ok and qemu.result.samples == 30


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m55"])
def test_stateful_gru_keyword_model_100_steps(tmp_path: Path, target: str) -> None:
    """The PyTorch GRU exported one frame per call, its state kept in C (``--stateful h=h_next``,
    the Q15 state in and out): the dsp family's GRU kernel on Cortex-M7, the Helium one on M55."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from bench_gru import MODELS, kws_frames, record_states

    kws = Path(__file__).resolve().parents[4] / "shared" / "data" / "kws_mfcc_dev500.npz"
    if not kws.exists():
        pytest.skip(f"{kws} is absent (the shared KWS samples)")
    x = kws_frames()
    frames = x[:10].reshape(-1, 10)
    model = MODELS / "gru_kws_step.onnx"
    np.savez(tmp_path / "calib.npz", x=frames[:, None, None], h=record_states(model, frames))
    np.savez(tmp_path / "test.npz", x=x[400:403].reshape(-1, 10)[:100, None, None])
    options = CompileOptions(target=target, calib=tmp_path / "calib.npz", stateful=[("h", "h_next")], progress=False)
    compile_model(model, tmp_path / "out", options)
    kernels = next((tmp_path / "out").glob("*_kernels.c")).read_text()
    assert ("vmladavaq_s16(" if target == "cortex-m55" else "qc_smlad(") in kernels and "h_last" in kernels
    qemu = verify_on_qemu(tmp_path / "out", load_target(target), data=tmp_path / "test.npz", limit=100)
    assert qemu.result.ok and qemu.result.samples == 100


def test_stateful_lstm_keyword_model_100_steps(tmp_path: Path) -> None:
    """The PyTorch LSTM exported one frame per call, h (int8) and c (int16) kept in C."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from bench_lstm import MODELS, STATEFUL, kws_frames, step_data

    kws = Path(__file__).resolve().parents[4] / "shared" / "data" / "kws_mfcc_dev500.npz"
    if not kws.exists():
        pytest.skip(f"{kws} is absent (the shared KWS samples)")
    calib, test = step_data(kws_frames(), tmp_path, utterances=10)
    options = CompileOptions(target="cortex-m7", calib=calib, stateful=STATEFUL, progress=False)
    compile_model(MODELS / "lstm_kws_step.onnx", tmp_path / "out", options)
    qemu = verify_on_qemu(tmp_path / "out", load_target("cortex-m7"), data=test, limit=100)
    assert qemu.result.ok and qemu.result.samples == 100
