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
