"""Shared fixtures: paths to the shared MLPerf models and data, skipping when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
EXAMPLE_DIR = REPO / "examples" / "digits"


def _shared(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"shared material {path} is absent (expected ../shared next to the repository)")
    return path


@pytest.fixture(scope="session")
def resnet8_onnx() -> Path:
    return _shared("models/mlperf_ic_resnet8.onnx")


@pytest.fixture(scope="session")
def kws_onnx() -> Path:
    return _shared("models/mlperf_kws_dscnn.onnx")


@pytest.fixture(scope="session")
def resnet8_tflite() -> Path:
    return _shared("models/mlperf_ic_resnet8_int8.tflite")


@pytest.fixture(scope="session")
def kws_tflite() -> Path:
    return _shared("models/mlperf_kws_dscnn_int8.tflite")


@pytest.fixture(scope="session")
def kws_data() -> Path:
    return _shared("data/kws_mfcc_dev500.npz")


@pytest.fixture(scope="session")
def kernel_driver(tmp_path_factory: pytest.TempPathFactory):
    """The guarded sanitizer driver of every runtime kernel (tests/c_driver.py), built once."""
    from c_driver import build_kernel_driver

    return build_kernel_driver(tmp_path_factory.mktemp("kernel_driver"))
