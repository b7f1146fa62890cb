"""The public Python API (docs/API.md): compile, load, run, reference, quantize, float_run,
and ``qcompile.testing.assert_bit_exact`` naming the sample, the output and the first
layer that differs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLE_DIR

import qcompile
from qcompile.errors import QCompileError
from qcompile.testing import assert_bit_exact, first_differing_layer

MODEL = EXAMPLE_DIR / "digits_cnn.onnx"
CALIB = EXAMPLE_DIR / "calib.npz"


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> qcompile.CompiledModel:
    return qcompile.compile(MODEL, tmp_path_factory.mktemp("api") / "digits", calib=CALIB)


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    with np.load(EXAMPLE_DIR / "test.npz") as data:
        return np.asarray(data["x"][:20], dtype=np.float32)


def test_compile_returns_a_loadable_model_with_tensor_infos(digits: qcompile.CompiledModel) -> None:
    again = qcompile.load(digits.path)
    assert again.name == digits.name == "digits_cnn"
    (inp,) = digits.inputs
    (out,) = digits.outputs
    assert inp.dtype == out.dtype == "int8"
    assert inp.size == int(np.prod(inp.shape)) and out.shape[-1] == 10
    assert inp.scale > 0 and -128 <= inp.zero_point <= 127
    assert digits.report["target"] == "host" and digits.report["layers"]


def test_run_equals_reference_and_tracks_the_float_model(digits: qcompile.CompiledModel, samples: np.ndarray) -> None:
    x = digits.quantize(samples)
    assert x.dtype == np.int8 and x.shape == (len(samples), *digits.inputs[0].shape[1:])
    y = digits.run(x)
    assert y.dtype == np.int8 and y.shape == (len(samples), 10)
    np.testing.assert_array_equal(y, digits.reference(x))
    np.testing.assert_array_equal(y, digits.run(samples))  # float input is quantized first
    real = digits.dequantize(y)
    f = digits.float_run(samples).reshape(len(samples), -1)
    assert np.mean(real.argmax(axis=1) == f.argmax(axis=1)) >= 0.9
    assert_bit_exact(digits, x)


def test_inputs_by_name_and_flat_samples(digits: qcompile.CompiledModel, samples: np.ndarray) -> None:
    x = digits.quantize(samples[:3])
    by_name = digits.run({digits.inputs[0].name: x})
    flat = digits.run(x.reshape(3, -1))
    np.testing.assert_array_equal(by_name, flat)
    with pytest.raises(QCompileError, match="no array for"):
        digits.run({"nope": x})
    with pytest.raises(QCompileError, match="not a batch of"):
        digits.run(np.zeros((3, 7), dtype=np.int8))
    with pytest.raises(QCompileError, match="expected int8"):
        digits.run(x.astype(np.int16))


def test_calibration_arrays_in_memory_give_the_same_model(digits: qcompile.CompiledModel, tmp_path: Path) -> None:
    with np.load(CALIB) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    from_arrays = qcompile.compile(MODEL, tmp_path / "arrays", calib=arrays)
    assert (from_arrays.path / "digits_cnn_weights.c").read_bytes() == (
        digits.path / "digits_cnn_weights.c"
    ).read_bytes()
    assert from_arrays.meta["calibration_data"] is None
    with pytest.raises(QCompileError, match="calibration arrays"):
        qcompile.compile(MODEL, tmp_path / "bad", calib=np.zeros((4, 3), dtype=np.float32))


def test_unknown_compile_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="unknown compile option.*colour"):
        qcompile.compile(MODEL, tmp_path / "m", calib=CALIB, colour="red")


@pytest.fixture(scope="module")
def broken(digits: qcompile.CompiledModel, tmp_path_factory: pytest.TempPathFactory) -> qcompile.CompiledModel:
    """The digits folder with one byte of the first layer's weights changed in the C source."""
    import shutil

    broken_dir = tmp_path_factory.mktemp("broken") / "digits"
    shutil.copytree(digits.path, broken_dir, ignore=shutil.ignore_patterns("build"))
    weights = broken_dir / "digits_cnn_weights.c"
    text = weights.read_text()
    match = re.search(r"digits_cnn_w_\w+\[\d+\][^=]*= \{\s*(-?\d+),", text)
    assert match is not None
    value = int(match.group(1))
    start, end = match.span(1)
    weights.write_text(text[:start] + str(value + 1 if value < 127 else value - 1) + text[end:])
    return qcompile.load(broken_dir)


def test_corrupted_weight_byte_is_caught_and_its_layer_named(
    digits: qcompile.CompiledModel, broken: qcompile.CompiledModel, samples: np.ndarray
) -> None:
    x = broken.quantize(samples)
    with pytest.raises(AssertionError) as info:
        assert_bit_exact(broken, x)
    message = str(info.value)
    assert "sample" in message and "output" in message and "element" in message
    first = first_differing_layer(broken, x)
    assert first is not None and first.index == 0
    assert f"layer 0 ({first.op} {first.name!r}) is the first to differ" in message
    # the intact model has no differing layer on the same input
    assert first_differing_layer(digits, x) is None


def test_verify_command_names_the_differing_layer(broken: qcompile.CompiledModel) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "qcompile", "verify", str(broken.path), "-n", "20", "--no-float"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "is the first to differ" in proc.stderr and "layer 0 (" in proc.stderr


def test_float_run_is_refused_for_tflite_folders(tmp_path: Path, kws_tflite: Path) -> None:
    model = qcompile.compile(kws_tflite, tmp_path / "kws")
    with pytest.raises(QCompileError, match="no float model"):
        model.float_run(np.zeros((1, 49, 10, 1), dtype=np.float32))
    x = np.random.default_rng(0).integers(-128, 128, size=(4, *model.inputs[0].shape[1:]), dtype=np.int8)
    assert_bit_exact(model, x)


def test_example_host_test_file_passes(tmp_path: Path) -> None:
    """examples/host_test runs as a user would run it: its own pytest session."""
    import os
    import subprocess
    import sys

    example = EXAMPLE_DIR.parent / "host_test" / "test_model_bit_exact.py"
    env = {**os.environ, "MODEL_DIR": str(tmp_path / "digits")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_version_matches_pyproject() -> None:
    """One version: the package's equals the distribution's (pyproject.toml)."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    assert qcompile.__version__ == tomllib.loads(pyproject.read_text())["project"]["version"]
