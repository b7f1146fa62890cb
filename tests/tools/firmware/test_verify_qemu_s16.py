"""A 16x8 folder (int16 I/O, portable s16 kernels on the DSP target) verifies bit-exact on the
host and cross-compiled for Cortex-M7 under QEMU; the harness moves int16 samples as bytes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("tflite_micro", reason="the 16x8 test model is built with tflite_micro's schema")


def test_16x8_folder_verifies_on_host_and_qemu(tmp_path: Path) -> None:
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "frontends"))
    from test_tflite_s16 import _network

    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.targets import load_target
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu
    from qcompile.tools.verify import verify

    path = tmp_path / "net16.tflite"
    path.write_bytes(_network().finish())
    out = tmp_path / "out"
    compile_model(path, out, CompileOptions(target="cortex-m7", progress=False))
    host = verify(out, limit=20)
    assert host.bit_exact == host.samples == 20
    qemu = verify_on_qemu(out, load_target("cortex-m7"), limit=20)
    assert qemu.result.bit_exact == qemu.result.samples == 20
    assert "int16 inputs" in qemu.result.data_source


def test_16x8_unary_ops_verify_on_qemu(tmp_path: Path) -> None:
    """--act-bits 16 ONNX chain Conv -> Sigmoid -> LeakyRelu -> Tanh -> Gelu -> HardSwish
    (qc_logistic_s16, qc_leaky_relu_s16, qc_tanh_s16, qc_lut_s16) on Cortex-M7 under QEMU."""
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "quant"))
    from test_elementwise_s16 import _model

    import qcompile
    from qcompile.targets import load_target
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu

    ops = [("Sigmoid", {}), ("LeakyRelu", {"alpha": 0.1}), ("Tanh", {}), ("Gelu", {}), ("HardSwish", {})]
    path = _model(tmp_path, ops)
    out = tmp_path / "out"
    qcompile.compile(path, out, calib=tmp_path / "calib.npz", act_bits=16, target="cortex-m7")
    text = (out / "unary16.c").read_text()
    for fn in ("qc_logistic_s16", "qc_leaky_relu_s16", "qc_tanh_s16", "qc_lut_s16"):
        assert fn in text, fn
    qemu = verify_on_qemu(out, load_target("cortex-m7"), limit=12)
    assert qemu.result.bit_exact == qemu.result.samples == 12
