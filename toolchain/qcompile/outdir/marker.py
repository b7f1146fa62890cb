"""The marker file that makes a folder qcompile's to replace.

Plain text a person can read with ``cat``: a header line with the format version, a
sentence on what the marker means, then ``key: value`` lines (what the folder was built
from, with sha256 digests, so ``compare`` can tell whether a folder belongs to a model).
Deleting the marker is how a user takes a folder back: qcompile then refuses to touch it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from qcompile.version import __version__

MARKER = ".qcompile-output"
MARKER_FORMAT = 1
_HEADER = "qcompile output folder, format "
_NOTE = (
    "# Written by qcompile {version}. qcompile replaces this whole folder on its next run that\n"
    "# writes here: keep no files of your own in it. Delete this file and qcompile will refuse\n"
    "# to touch the folder.\n"
)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_marker(folder: Path, kind: str, fields: dict[str, str | None] | None = None) -> None:
    """Mark ``folder`` as qcompile's (``kind``: ``model`` or ``build``)."""
    lines = [f"{_HEADER}{MARKER_FORMAT}\n", _NOTE.format(version=__version__), f"kind: {kind}\n"]
    for key, value in (fields or {}).items():
        if value is not None:
            lines.append(f"{key}: {value}\n")
    (Path(folder) / MARKER).write_text("".join(lines), encoding="utf-8")


def read_marker(folder: Path) -> dict[str, str] | None:
    """The marker's fields, or None when ``folder`` carries no (readable) qcompile marker."""
    path = Path(folder) / MARKER
    try:
        if not path.is_file() or path.is_symlink():
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.splitlines()
    if not lines or not lines[0].startswith(_HEADER):
        return None
    fields = {"format": lines[0][len(_HEADER) :].strip()}
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if sep and not line.startswith("#"):
            fields[key.strip()] = value.strip()
    return fields
