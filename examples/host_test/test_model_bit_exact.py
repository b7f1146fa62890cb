"""A firmware repository's host test: the C we flash computes exactly what the model computes.

Copy this file into your firmware repository's tests, point MODEL_DIR at the folder your
build generates with `qcompile model.onnx --target cortex-m7 --calib calib.npz -o MODEL_DIR`,
and run `pytest`. The test builds the same C sources for the host, runs them on your
samples and fails naming the first differing layer if the C and the reference disagree.

Here the folder is generated from qcompile's bundled digits example when it is missing, so
the file runs as it is (qcompile's own suite runs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import qcompile
from qcompile.testing import assert_bit_exact

EXAMPLE = Path(__file__).resolve().parent.parent / "digits"
MODEL_DIR = Path(os.environ.get("MODEL_DIR", Path(__file__).resolve().parent / "build" / "digits"))


@pytest.fixture(scope="session")
def model() -> qcompile.CompiledModel:
    if not (MODEL_DIR / "model.qir").exists():
        qcompile.compile(
            EXAMPLE / "digits_cnn.onnx", MODEL_DIR, calib=EXAMPLE / "calib.npz", target="cortex-m7", name="digits"
        )
    return qcompile.load(MODEL_DIR)


@pytest.fixture(scope="session")
def samples(model: qcompile.CompiledModel) -> np.ndarray:
    with np.load(EXAMPLE / "test.npz") as data:
        return model.quantize(np.asarray(data["x"][:100], dtype=np.float32))


def test_c_is_bit_exact_with_the_reference(model: qcompile.CompiledModel, samples: np.ndarray) -> None:
    assert_bit_exact(model, samples)


def test_random_inputs_cover_the_whole_int8_range(model: qcompile.CompiledModel) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(50, *model.inputs[0].shape[1:]), dtype=np.int8)
    assert_bit_exact(model, x)


def test_int8_accuracy_stays_close_to_float(model: qcompile.CompiledModel) -> None:
    with np.load(EXAMPLE / "test.npz") as data:
        x, y = np.asarray(data["x"][:200], dtype=np.float32), np.asarray(data["y"][:200])
    int8_top1 = np.mean(model.dequantize(model.run(x)).argmax(axis=1) == y)
    float_top1 = np.mean(model.float_run(x).reshape(len(x), -1).argmax(axis=1) == y)
    assert int8_top1 >= float_top1 - 0.02
