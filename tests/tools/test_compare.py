"""`qcompile compare` explains a folder that was not built from the given .tflite
(the sha256 recorded at compile time), before running anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_runner import run_cli
from conftest import EXAMPLE_DIR

pytest.importorskip("tflite_micro", reason="tflite_micro (needed to build the .tflite) is not installed")

from tflite_builder import ModelBuilder  # noqa: E402


def _tiny(path: Path, zero_point: int) -> Path:
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 4, 3), scale=0.05, zero_point=zero_point)
    y = b.tensor("y", (1, 4, 4, 3), scale=1 / 256, zero_point=-128)
    b.op("LOGISTIC", [x], [y])
    b.inputs, b.outputs = [x], [y]
    path.write_bytes(b.finish())
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare")
    model = _tiny(root / "a.tflite", 3)
    r = run_cli(model, "-o", root / "out")
    assert r.returncode == 0, r.stderr
    return model, root / "out"


def _explained(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_other_tflite_is_explained(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model, out = tiny
    other = _tiny(tmp_path / "b.tflite", 5)
    r = run_cli("compare", out, "--tflm", other, "-n", "2")
    _explained(r, f"{out} was not compiled from {other}", str(model.resolve()), "sha256", "recompile")


def test_onnx_folder_is_explained(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    out = tmp_path / "digits"
    r = run_cli(EXAMPLE_DIR / "digits_cnn.onnx", "--calib", EXAMPLE_DIR / "calib.npz", "-o", out)
    assert r.returncode == 0, r.stderr
    _explained(run_cli("compare", out, "--tflm", tiny[0]), "float model that qcompile calibrated itself")


def test_onnx_given_as_tflm_model_is_named(tiny: tuple[Path, Path]) -> None:
    r = run_cli("compare", tiny[1], "--tflm", EXAMPLE_DIR / "digits_cnn.onnx")
    _explained(r, "digits_cnn.onnx is not a TFLite flatbuffer", "ONNX model")


def test_the_source_model_compares_equal(tiny: tuple[Path, Path]) -> None:
    model, out = tiny
    r = run_cli("compare", out, "--tflm", model, "-n", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3/3" in r.stdout
    assert "data: 3 random int8 inputs (seed 0)" in r.stdout
