"""`qcompile verify` says which data it ran, on one unwrapped line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from conftest import EXAMPLE_DIR

MODEL, CALIB = EXAMPLE_DIR / "digits_cnn.onnx", EXAMPLE_DIR / "calib.npz"


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder at a path longer than any terminal line, holding a copy of the calibration file."""
    root = tmp_path_factory.mktemp("verify")
    for i in range(6):
        root = root / f"a_rather_long_folder_name_{i}"
    root.mkdir(parents=True)
    shutil.copy(CALIB, root / "calib.npz")
    r = run_cli(MODEL, "--calib", root / "calib.npz", "-o", root / "digits")
    assert r.returncode == 0, r.stderr
    return root


def _data_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("data: ")]
    assert len(lines) == 1, stdout
    return lines[0]


def test_verify_names_the_recorded_calibration_file(deep: Path) -> None:
    r = run_cli("verify", deep / "digits", "-n", "4", "--no-float")
    assert r.returncode == 0, r.stderr
    line = _data_line(r.stdout)
    assert str(deep / "calib.npz") in line  # the whole path, never wrapped
    assert "calibration file recorded at compile time" in line and "4 samples" in line


def test_verify_names_the_given_data(deep: Path) -> None:
    r = run_cli("verify", deep / "digits", "-n", "3", "--data", EXAMPLE_DIR / "test.npz")
    assert r.returncode == 0, r.stderr
    assert _data_line(r.stdout) == f"data: {EXAMPLE_DIR / 'test.npz'} (--data), 3 samples"


def test_missing_recorded_calibration_names_it(deep: Path, tmp_path: Path) -> None:
    folder = tmp_path / "digits"
    shutil.copytree(deep / "digits", folder)
    moved = deep / "calib.npz"
    moved.rename(tmp_path / "away.npz")
    try:
        r = run_cli("verify", folder)
    finally:
        (tmp_path / "away.npz").rename(moved)
    assert r.returncode == 1 and "--data" in r.stderr and str(moved) in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr


def test_tflite_folder_says_its_inputs_are_random(tmp_path: Path) -> None:
    pytest.importorskip("tflite_micro", reason="tflite_micro (needed to build the .tflite) is not installed")
    from tflite_builder import ModelBuilder

    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 4, 3), scale=0.05, zero_point=3)
    y = b.tensor("y", (1, 4, 4, 3), scale=1 / 256, zero_point=-128)
    b.op("LOGISTIC", [x], [y])
    b.inputs, b.outputs = [x], [y]
    (tmp_path / "tiny.tflite").write_bytes(b.finish())
    assert run_cli(tmp_path / "tiny.tflite", "-o", tmp_path / "out").returncode == 0
    r = run_cli("verify", tmp_path / "out", "-n", "5")
    assert r.returncode == 0, r.stderr
    assert "5 random int8 inputs" in _data_line(r.stdout) and "--data" in _data_line(r.stdout)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 1, 4, 4, 3), np.int8))
    r = run_cli("verify", tmp_path / "out", "--data", tmp_path / "x.npz")
    assert r.returncode == 0 and "(--data), 2 samples" in _data_line(r.stdout), r.stdout + r.stderr
