"""End to end on the MLPerf Tiny reference models: compile, build for the host, run
200 inputs through the C (via the Cython binding) and the numpy reference: every
output bit must agree; and int8 accuracy on real KWS data must stay within 1 point
of float."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from c_driver import check_model_sanitized

from qcompile.compiler import CompileOptions, compile_model
from qcompile.tools.verify import verify


def _kws_float(kws_data: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(kws_data) as d:
        x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
        return x.reshape(-1, 1, 49, 10), d["y"].astype(np.int64)


@pytest.fixture(scope="module")
def resnet8_build(tmp_path_factory: pytest.TempPathFactory, resnet8_onnx: Path) -> Path:
    tmp = tmp_path_factory.mktemp("resnet8")
    rng = np.random.default_rng(1)
    calib = rng.uniform(0, 255, size=(200, 1, 3, 32, 32)).astype(np.float32)
    np.savez(tmp / "calib.npz", input_1=calib)
    out = tmp / "out"
    compile_model(resnet8_onnx, out, CompileOptions(calib=tmp / "calib.npz", name="resnet8", progress=False))
    return out


def test_resnet8_bit_exact_200(resnet8_build: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    data = rng.uniform(0, 255, size=(200, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "inputs.npz", input_1=data)
    result = verify(resnet8_build, data=tmp_path / "inputs.npz")
    assert result.samples == 200
    assert result.bit_exact == 200, f"mismatched samples: {result.mismatched_samples[:10]}"
    check_model_sanitized(resnet8_build, tmp_path)  # ASan + UBSan, guarded buffers
    # random images are far from the training distribution, yet int8 must track float
    assert result.outputs and result.outputs[0].sqnr_db > 10.0


def test_kws_bit_exact_and_accuracy(tmp_path: Path, kws_onnx: Path, kws_data: Path) -> None:
    x, y = _kws_float(kws_data)
    np.savez(tmp_path / "calib.npz", input_1=x[:200])
    np.savez(tmp_path / "eval.npz", input_1=x[200:], y=y[200:])
    out = tmp_path / "kws"
    compile_model(kws_onnx, out, CompileOptions(calib=tmp_path / "calib.npz", name="kws", progress=False))
    result = verify(out, data=tmp_path / "eval.npz")
    assert result.samples == 300
    assert result.bit_exact == 300, f"mismatched samples: {result.mismatched_samples[:10]}"
    check_model_sanitized(out, tmp_path)  # ASan + UBSan, guarded buffers
    out0 = result.outputs[0]
    assert out0.float_accuracy is not None and out0.int8_accuracy is not None
    assert out0.float_accuracy > 0.8  # sanity: the data and the float model agree
    assert out0.int8_accuracy >= out0.float_accuracy - 0.01, (out0.int8_accuracy, out0.float_accuracy)
