"""`qcompile eval`: float model vs the int8 host build on a labelled set (digits example, KWS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from conftest import EXAMPLE_DIR

import qcompile
from qcompile.tools.evaluate import evaluate

MODEL, CALIB, TEST = EXAMPLE_DIR / "digits_cnn.onnx", EXAMPLE_DIR / "calib.npz", EXAMPLE_DIR / "test.npz"


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "digits"
    r = run_cli(MODEL, "--calib", CALIB, "-o", out)
    assert r.returncode == 0, r.stderr
    return out


def test_labelled_set_scores_the_host_build(digits: Path) -> None:
    r = evaluate(digits, TEST, limit=40)
    with np.load(TEST) as npz:
        x, y = npz["x"][:40], npz["y"][:40]
    model = qcompile.load(digits)
    assert np.array_equal(r.int8_top1, np.asarray(model.reference(x)).reshape(40, -1).argmax(axis=1))
    assert np.array_equal(r.float_top1, np.asarray(model.float_run(x)).reshape(40, -1).argmax(axis=1))
    assert r.accuracy(r.int8_top1) == pytest.approx(np.mean(r.int8_top1 == y))
    matrix = r.confusion(r.int8_top1)
    assert matrix.sum() == 40 and np.trace(matrix) == np.sum(r.int8_top1 == y)
    assert [c for c, _, _ in r.per_class(r.int8_top1)] == sorted(set(y.tolist()))
    assert r.sqnr_db is not None and r.sqnr_db > 25.0


def test_cli_prints_accuracy_per_class_and_confusion(digits: Path) -> None:
    r = run_cli("eval", digits, "--data", TEST, "-n", "60")
    assert r.returncode == 0, r.stderr
    for text in ("60 samples", "top-1: int8", "float", "per-class accuracy", "confusion matrix", "output SQNR"):
        assert text in r.stdout, text


def test_without_labels_reports_sqnr_and_mse(digits: Path, tmp_path: Path) -> None:
    data = tmp_path / "unlabelled.npz"
    with np.load(TEST) as npz:
        np.savez(data, x=npz["x"][:16])
    r = run_cli("eval", digits, "--data", data)
    assert r.returncode == 0, r.stderr
    assert "output SQNR" in r.stdout and "MSE" in r.stdout and "top-1: " not in r.stdout
    bad = run_cli("eval", digits, "--data", data, "--labels", "y")
    assert bad.returncode == 1 and "no array 'y' for --labels" in bad.stderr


def test_tflite_folder_int8_only_and_against_a_float_model(
    tmp_path: Path, kws_tflite: Path, kws_onnx: Path, kws_data: Path
) -> None:
    out = tmp_path / "kws"
    assert run_cli(kws_tflite, "-o", out).returncode == 0
    alone = evaluate(out, kws_data, limit=20)
    assert alone.float_top1 is None and alone.sqnr_db is None and alone.labels is not None
    both = evaluate(out, kws_data, float_model=kws_onnx, limit=20)
    assert np.array_equal(both.int8_top1, alone.int8_top1)
    assert both.sqnr_db is not None and both.sqnr_db > 20.0  # same inputs, laid out for the ONNX model
    assert np.mean(both.int8_top1 == both.float_top1) >= 0.9
    unlabelled = tmp_path / "x.npz"
    with np.load(kws_data) as npz:
        np.savez(unlabelled, x=npz["x"][:4])
    r = run_cli("eval", out, "--data", unlabelled)
    assert r.returncode == 1 and "--float" in r.stderr
