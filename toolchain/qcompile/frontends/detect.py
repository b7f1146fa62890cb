"""What kind of model file this is, by its bytes rather than its name.

qcompile picks the importer by the file's suffix, so a ``.tflite`` renamed ``.onnx`` (or
the reverse) would otherwise fail deep inside a parser with a message about protobuf
fields or flatbuffer offsets. The first bytes settle it: a TFLite flatbuffer carries the
file identifier ``TFL3`` at byte offset 4; an ONNX ``ModelProto`` starts with field 1
(``ir_version``, a varint: tag byte ``0x08``).
"""

from __future__ import annotations

from pathlib import Path

from qcompile.errors import QCompileError

TFLITE_MAGIC = b"TFL3"
_KINDS = {
    "onnx": "an ONNX model",
    "tflite": "a TFLite flatbuffer",
    "hdf5": "an HDF5 (Keras) file",
    "zip": "a zip archive",
}
_ADVICE = {
    "hdf5": "export it to ONNX (tf2onnx) or convert it to an int8 .tflite (TFLite converter) first",
    "zip": "a Keras v3 or PyTorch file? Export it to ONNX (tf2onnx, torch.onnx.export) first",
}


def sniff(head: bytes) -> str | None:
    """``onnx``, ``tflite``, ``hdf5`` or ``zip`` from a file's first 8 bytes; None if unknown."""
    if head[4:8] == TFLITE_MAGIC:
        return "tflite"
    if head[:4] == b"\x89HDF":
        return "hdf5"
    if head[:2] == b"PK":
        return "zip"
    if head[:1] == b"\x08":
        return "onnx"
    return None


def model_kind(path: Path) -> str:
    """``onnx`` or ``tflite``: the importer for ``path``, or a QCompileError saying what the
    file really is when its suffix and its bytes disagree."""
    path = Path(path)
    if not path.exists():
        raise QCompileError(f"{path}: no such file")
    if path.is_dir():
        raise QCompileError(f"{path} is a folder; give the model file (.onnx or .tflite)")
    with open(path, "rb") as f:
        found = sniff(f.read(8))
    suffix = path.suffix.lower()
    wanted = {".onnx": "onnx", ".tflite": "tflite"}.get(suffix)
    if wanted == "tflite" and found != "tflite":
        what = f"it looks like {_KINDS[found]}" if found else "its bytes are neither TFLite nor ONNX"
        hint = f": rename it to {path.with_suffix('.onnx').name}" if found == "onnx" else ""
        raise QCompileError(f"{path} is not a TFLite flatbuffer (no {TFLITE_MAGIC.decode()!r} at byte 4); {what}{hint}")
    if wanted == "onnx" and found == "tflite":
        raise QCompileError(
            f"{path} is a TFLite flatbuffer ({TFLITE_MAGIC.decode()!r} at byte 4), not an ONNX model: "
            f"rename it to {path.with_suffix('.tflite').name} (qcompile picks the importer by the suffix)"
        )
    if wanted is None:
        what = f" (it looks like {_KINDS[found]})" if found else ""
        if found in ("onnx", "tflite"):
            advice = f"rename it to {path.with_suffix('.' + found).name}"
        else:
            advice = _ADVICE.get(found or "", "give an .onnx (float) or an int8 .tflite file")
        raise QCompileError(f"{path}: unsupported model format {path.suffix!r}{what}; {advice}")
    return wanted


def require_tflite(path: Path) -> None:
    """A QCompileError unless ``path`` is a TFLite flatbuffer (whatever its name)."""
    with open(path, "rb") as f:
        found = sniff(f.read(8))
    if found != "tflite":
        what = f"it looks like {_KINDS[found]}" if found else "its bytes are not a TFLite flatbuffer"
        raise QCompileError(f"{path} is not a TFLite flatbuffer (no {TFLITE_MAGIC.decode()!r} at byte 4): {what}")
