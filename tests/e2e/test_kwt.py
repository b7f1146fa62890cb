"""End to end on the keyword transformer (examples/kwt, KWT-style: MFCC frame tokens,
pre-LN encoder blocks with 4-head self-attention and a GELU MLP, mean pooling): both
exports (LayerNormalization op at opset 17, decomposed LayerNorm at opset 13) compile, the
C is bit-exact with the reference (also under ASan/UBSan and, for cortex-m7, under QEMU),
and the integer-only int8 logits keep at least 20 dB SQNR against onnxruntime's float."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from c_driver import check_model_sanitized

from qcompile.compiler import CompileOptions, compile_model
from qcompile.targets import load_target
from qcompile.tools.verify import verify

KWT = Path(__file__).resolve().parents[2] / "examples" / "kwt"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("kwt")
    test = np.load(KWT / "test.npz")
    np.savez(tmp / "eval.npz", input=test["input"][:100], y=test["y"][:100])
    return tmp


@pytest.mark.parametrize("opset", [17, 13])
def test_kwt_host_bit_exact_and_sqnr(opset: int, data: Path, tmp_path: Path) -> None:
    out = tmp_path / f"kwt{opset}"
    compile_model(KWT / f"kwt_opset{opset}.onnx", out, CompileOptions(calib=KWT / "calib.npz", progress=False))
    result = verify(out, data=data / "eval.npz")
    assert result.bit_exact == result.samples == 100, result.mismatched_samples[:10]
    logits = result.outputs[0]
    assert logits.sqnr_db >= 20.0, logits.sqnr_db
    assert logits.int8_accuracy >= logits.float_accuracy - 0.03
    if opset == 17:
        check_model_sanitized(out, tmp_path)


@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc",
)
def test_kwt_cortex_m7_bit_exact_on_qemu(data: Path, tmp_path: Path) -> None:
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu

    out = tmp_path / "kwt_m7"
    options = CompileOptions(calib=KWT / "calib.npz", target="cortex-m7", progress=False)
    compile_model(KWT / "kwt_opset13.onnx", out, options)
    checked = verify_on_qemu(out, load_target("cortex-m7"), data=data / "eval.npz", limit=4)
    assert checked.result.ok and checked.result.samples == 4
