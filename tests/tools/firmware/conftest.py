"""Fixtures for the QEMU tests: quantized MLPerf graphs (quantized once per session) and
a skip-free check that the cross toolchain and QEMU are installed (CI installs them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.ir import Graph
from qcompile.outdir import ModelFolder


def _kws_float(kws_data: Path) -> np.ndarray:
    with np.load(kws_data) as d:
        x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    return x.reshape(-1, 1, 49, 10)


@pytest.fixture(scope="session")
def resnet8_qgraph(tmp_path_factory: pytest.TempPathFactory, resnet8_onnx: Path) -> Graph:
    tmp = tmp_path_factory.mktemp("fw_resnet8")
    rng = np.random.default_rng(1)
    np.savez(tmp / "calib.npz", input_1=rng.uniform(0, 255, size=(64, 1, 3, 32, 32)).astype(np.float32))
    compile_model(resnet8_onnx, tmp / "out", CompileOptions(calib=tmp / "calib.npz", name="resnet8", progress=False))
    return ModelFolder.open(tmp / "out").graph


@pytest.fixture(scope="session")
def kws_qgraph(tmp_path_factory: pytest.TempPathFactory, kws_onnx: Path, kws_data: Path) -> Graph:
    tmp = tmp_path_factory.mktemp("fw_kws")
    np.savez(tmp / "calib.npz", input_1=_kws_float(kws_data)[:200])
    compile_model(kws_onnx, tmp / "out", CompileOptions(calib=tmp / "calib.npz", name="kws", progress=False))
    return ModelFolder.open(tmp / "out").graph


@pytest.fixture(scope="session")
def kws_int8_samples(kws_data: Path) -> np.ndarray:
    """Real KWS inputs as the int8 model sees them (the file's own quantization)."""
    with np.load(kws_data) as d:
        return d["x"].astype(np.int8).reshape(-1, 49, 10, 1)
