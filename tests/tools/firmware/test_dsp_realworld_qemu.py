"""The issue-12 real-world models on Cortex-M7 under QEMU with the DSP attention, element-wise,
transposed-conv and resize kernels (codegen/families/dsp_{attention,eltwise,tconv,resize}.py):
the keyword transformer, mbv3_se and the U-Net decoder compile for cortex-m7, their generated
C uses those kernels, and ``verify --qemu`` is bit-exact on their own test data."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.targets import load_target
from qcompile.tools.firmware.verify_qemu import verify_on_qemu

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "examples" / "realworld"))

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="qemu-system-arm / arm-none-eabi-gcc not installed",
)


def _data(model: str) -> tuple[np.ndarray, np.ndarray]:
    from data import samples, smooth

    if model == "kwt":
        kwt = ROOT / "examples" / "kwt"
        return np.load(kwt / "calib.npz")["input"][:32], np.load(kwt / "test.npz")["input"][:8]
    if model == "mbv3":
        return samples("mbv3", "calib", 16), samples("mbv3", "test", 8)
    return smooth(np.random.default_rng(50), 16, 3, 32, 32), smooth(np.random.default_rng(51), 8, 3, 32, 32)


MODELS = {
    "kwt": (ROOT / "examples" / "kwt" / "kwt_opset17.onnx", (), ("softmax", "batch_matmul", "layer_norm")),
    "mbv3": (ROOT / "examples" / "realworld" / "mbv3_se.onnx", ("input=1,3,48,48",), ("mul", "lut")),
    "unet": (ROOT / "examples" / "realworld" / "unet_decoder.onnx", (), ("transpose_conv2d", "resize_bilinear")),
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_realworld_model_bit_exact_on_m7(tmp_path: Path, model: str) -> None:
    path, shapes, ops = MODELS[model]
    calib, test = _data(model)
    np.savez(tmp_path / "calib.npz", input=calib)
    np.savez(tmp_path / "test.npz", input=test)
    options = CompileOptions(
        target="cortex-m7", calib=tmp_path / "calib.npz", name=model, progress=False, input_shape=shapes or None
    )
    compile_model(path, tmp_path / "out", options)
    kernels = (tmp_path / "out" / f"{model}_kernels.c").read_text()
    for op in ops:
        assert f": {op} " in kernels, f"{model}: no DSP {op} kernel"
    result = verify_on_qemu(tmp_path / "out", load_target("cortex-m7"), data=tmp_path / "test.npz")
    assert result.result.ok and result.result.samples == len(test)
