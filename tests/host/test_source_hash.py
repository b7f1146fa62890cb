"""The extension records the digest of the sources it was built from; a stale build fails."""

from __future__ import annotations

import shutil
from pathlib import Path

from qcompile.host import source_hash
from qcompile.resources import runtime_dir

HOST = Path(source_hash.__file__).resolve().parent


def test_extension_is_built_from_the_tree() -> None:
    """Every C-vs-reference test relies on this (tests/runtime_ext.py fails them otherwise)."""
    reason = source_hash.stale_reason()
    assert reason is None, reason


def test_digest_sees_every_source_change(tmp_path: Path) -> None:
    rt, host = tmp_path / "runtime_c", tmp_path / "host"
    shutil.copytree(runtime_dir(), rt)
    shutil.copytree(HOST, host)
    base = source_hash.digest(rt, host)
    assert base == source_hash.digest(runtime_dir(), HOST)
    (host / "build.py").write_text("# not a binding source\n")
    assert source_hash.digest(rt, host) == base
    changed = [
        lambda: (rt / "src" / "qc_copy.c").write_text((rt / "src" / "qc_copy.c").read_text() + "\n"),
        lambda: (rt / "include" / "qc_new.h").write_text(""),
        lambda: (host / "_kernels_tflite.pxi").write_text("# edited\n"),
        lambda: (rt / "include" / "qc_new.h").rename(rt / "src" / "qc_new.h"),
    ]
    seen = {base}
    for change in changed:
        change()
        now = source_hash.digest(rt, host)
        assert now not in seen
        seen.add(now)


def test_header_for_the_build(tmp_path: Path) -> None:
    out = tmp_path / "qc_sources_hash.h"
    assert source_hash.main([str(runtime_dir()), str(HOST), str(out)]) == 0
    assert out.read_text() == f'#define QC_SOURCES_HASH "{source_hash.digest(runtime_dir(), HOST)}"\n'
