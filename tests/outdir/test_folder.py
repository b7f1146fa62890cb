"""Reading an output folder: marker, model.qir metadata, samples and where they came from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLE_DIR

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.outdir import MARKER, ModelFolder, file_sha256, load_samples, read_marker, write_marker

MODEL, CALIB = EXAMPLE_DIR / "digits_cnn.onnx", EXAMPLE_DIR / "calib.npz"


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outdir") / "digits"
    compile_model(MODEL, out, CompileOptions(calib=CALIB, progress=False))
    return out


def test_marker_round_trip_and_foreign_markers(tmp_path: Path) -> None:
    write_marker(tmp_path, "build", {"model_folder": "/x/y", "absent": None})
    fields = read_marker(tmp_path)
    assert fields == {"format": "1", "kind": "build", "model_folder": "/x/y"}
    (tmp_path / MARKER).write_text("something else\n")
    assert read_marker(tmp_path) is None
    (tmp_path / MARKER).unlink()
    (tmp_path / MARKER).mkdir()
    assert read_marker(tmp_path) is None


def test_folder_records_its_origin(digits: Path) -> None:
    folder = ModelFolder.open(digits)
    assert folder.c_name == "digits_cnn" and folder.target_name == "host"
    assert folder.source_model == MODEL.resolve() and folder.source_sha256 == file_sha256(MODEL)
    assert folder.calibration_data == CALIB.resolve() and not folder.is_tflite_source
    assert read_marker(digits)["source_sha256"] == file_sha256(MODEL)
    assert folder.report()["c_name"] == "digits_cnn"


def test_open_refuses_what_is_not_an_output_folder(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="does not exist"):
        ModelFolder.open(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(QCompileError, match="is a file"):
        ModelFolder.open(tmp_path / "f")
    with pytest.raises(QCompileError, match="no model.qir"):
        ModelFolder.open(tmp_path)


def test_samples_say_where_they_come_from(digits: Path, tmp_path: Path) -> None:
    folder = ModelFolder.open(digits)
    recorded = load_samples(folder, None, 7)
    assert recorded.n == 7 and str(CALIB.resolve()) in recorded.source
    assert "calibration file recorded at compile time" in recorded.source
    given = load_samples(folder, EXAMPLE_DIR / "test.npz", 5)
    assert given.n == 5 and "(--data)" in given.source and given.labels is not None
    np.testing.assert_array_equal(folder.run_host(given.quantized)[0][0].shape, (10,))
