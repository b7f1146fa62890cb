"""A model file is recognised by its bytes (``TFL3`` at offset 4), and a wrong suffix is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import run_cli
from conftest import EXAMPLE_DIR

from qcompile.errors import QCompileError
from qcompile.frontends.detect import model_kind, require_tflite, sniff

ONNX_BYTES = (EXAMPLE_DIR / "digits_cnn.onnx").read_bytes()
TFLITE_HEAD = b"\x1c\x00\x00\x00TFL3\x00\x00\x00\x00"


def test_sniff() -> None:
    assert sniff(TFLITE_HEAD[:8]) == "tflite"
    assert sniff(ONNX_BYTES[:8]) == "onnx"
    assert sniff(b"\x89HDF\r\n\x1a\n") == "hdf5"
    assert sniff(b"PK\x03\x04....") == "zip"
    assert sniff(b"") is None and sniff(b"hello world") is None


def test_suffix_and_bytes_agree(tmp_path: Path) -> None:
    assert model_kind(EXAMPLE_DIR / "digits_cnn.onnx") == "onnx"
    (tmp_path / "m.tflite").write_bytes(TFLITE_HEAD)
    assert model_kind(tmp_path / "m.tflite") == "tflite"
    require_tflite(tmp_path / "m.tflite")


@pytest.mark.parametrize(
    ("name", "data", "needles"),
    [
        ("m.onnx", TFLITE_HEAD, ["m.onnx is a TFLite flatbuffer", "'TFL3' at byte 4", "rename it to m.tflite"]),
        ("m.tflite", ONNX_BYTES, ["m.tflite is not a TFLite flatbuffer", "ONNX model", "rename it to m.onnx"]),
        ("m.tflite", b"garbage!", ["m.tflite is not a TFLite flatbuffer", "neither TFLite nor ONNX"]),
        ("m.bin", TFLITE_HEAD, ["unsupported model format '.bin'", "TFLite flatbuffer", "rename it to m.tflite"]),
        ("m.h5", b"\x89HDF\r\n\x1a\n", ["unsupported model format '.h5'", "HDF5 (Keras)", "tf2onnx"]),
    ],
)
def test_wrong_file_type_is_named_on_the_command_line(
    tmp_path: Path, name: str, data: bytes, needles: list[str]
) -> None:
    model = tmp_path / name
    model.write_bytes(data)
    r = run_cli(model, "--calib", EXAMPLE_DIR / "calib.npz", "-o", tmp_path / "out")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_require_tflite_names_an_onnx_file(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="not a TFLite flatbuffer.*ONNX model"):
        require_tflite(EXAMPLE_DIR / "digits_cnn.onnx")


def test_inspect_names_a_tflite_file(tmp_path: Path) -> None:
    (tmp_path / "m.tflite").write_bytes(TFLITE_HEAD)
    (tmp_path / "r.onnx").write_bytes(TFLITE_HEAD)
    r = run_cli("inspect", tmp_path / "m.tflite")
    assert r.returncode == 1 and "is an int8 TFLite model" in r.stderr, r.stderr
    r = run_cli("inspect", tmp_path / "r.onnx")
    assert r.returncode == 1 and "r.onnx is a TFLite flatbuffer" in r.stderr, r.stderr
