"""RAM of the MLPerf Tiny models with the memory passes (residual fusion + in-place
outputs + memory-aware schedule): compiled, bit-exact against the reference, and the
arena sizes reached are asserted so a regression fails.

TFLM's arenas on a 64-bit host (issue #4): ResNet-8 55,984 B, DS-CNN 24,272 B.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.verify import verify

TFLM_RESNET8 = 55_984
TFLM_DSCNN = 24_272
RESNET8_REACHED = 34_976  # 0.625x TFLM (without the passes: 50,304)
DSCNN_REACHED = 16_512  # 0.680x TFLM (a chain: the passes find nothing to fuse or reorder)


def _compile(tmp: Path, model: Path, calib: np.ndarray, memory_passes: bool) -> dict:
    np.savez(tmp / "calib.npz", input_1=calib)
    options = CompileOptions(calib=tmp / "calib.npz", name="m", progress=False, memory_passes=memory_passes)
    return compile_model(model, tmp / "out", options)


@pytest.fixture(scope="module")
def resnet8(tmp_path_factory: pytest.TempPathFactory, resnet8_onnx: Path) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("r8mem")
    calib = np.random.default_rng(1).uniform(0, 255, size=(50, 1, 3, 32, 32)).astype(np.float32)
    return tmp / "out", _compile(tmp, resnet8_onnx, calib, True)


def test_resnet8_fused_in_place_and_bit_exact(resnet8: tuple[Path, dict], tmp_path: Path) -> None:
    out, report = resnet8
    fused = [layer for layer in report["layers"] if layer["op"] == "conv2d_add"]
    assert len(fused) == 3 and all(layer["fused"] == ["conv2d", "add"] and layer["inplace_over"] for layer in fused)
    assert not [layer for layer in report["layers"] if layer["op"] == "add"]
    data = np.random.default_rng(2).uniform(0, 255, size=(40, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "x.npz", input_1=data)
    result = verify(out, data=tmp_path / "x.npz")
    assert result.bit_exact == result.samples == 40, result.mismatched_samples[:10]


def test_resnet8_arena(resnet8: tuple[Path, dict], tmp_path: Path, resnet8_onnx: Path) -> None:
    _, report = resnet8
    assert report["arena_bytes"] <= RESNET8_REACHED, report["arena_bytes"]
    calib = np.random.default_rng(1).uniform(0, 255, size=(8, 1, 3, 32, 32)).astype(np.float32)
    baseline = _compile(tmp_path, resnet8_onnx, calib, False)
    assert baseline["arena_bytes"] >= report["arena_bytes"] + 15_000


@pytest.mark.xfail(strict=True, reason="issue #4 target: needs conv working memory placed in dead/unwritten rows")
def test_resnet8_issue_target(resnet8: tuple[Path, dict]) -> None:
    assert resnet8[1]["arena_bytes"] <= int(0.60 * TFLM_RESNET8)


def test_dscnn_arena_and_bit_exact(tmp_path: Path, kws_onnx: Path, kws_data: Path) -> None:
    with np.load(kws_data) as d:
        x = ((d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])).reshape(-1, 1, 49, 10)
    report = _compile(tmp_path, kws_onnx, x[:50], True)
    # a chain: 2 x 8,000 B + the largest conv scratch; the 0.70x budget leaves 478 B of
    # scratch growth (a conv kernel asking for more scratch fails here)
    assert report["arena_bytes"] <= int(0.70 * TFLM_DSCNN), report["arena_bytes"]
    np.savez(tmp_path / "x.npz", input_1=x[50:90])
    result = verify(tmp_path / "out", data=tmp_path / "x.npz")
    assert result.bit_exact == result.samples == 40
