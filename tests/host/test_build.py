"""Host build of a generated folder: strict flags, cached by content, clear errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "codegen"))

from codegen_graphs import build_small  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.errors import QCompileError  # noqa: E402
from qcompile.host.build import BASE_FLAGS, build_host_library  # noqa: E402
from qcompile.targets import load_target  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")


@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    generate(build_small(), tmp_path / "small", name="small", target=load_target("host"))
    return tmp_path / "small"


def test_build_and_run(small_dir: Path, tmp_path: Path) -> None:
    from qcompile.host._runtime import ModelLibrary

    lib = build_host_library(small_dir, name="small", build_dir=tmp_path / "b")
    assert lib.is_file() and lib.parent == tmp_path / "b" and lib.name.startswith("libsmall-")
    # same sources and flags: the existing build is reused
    assert build_host_library(small_dir, name="small", build_dir=tmp_path / "b") == lib
    # different flags: a different file (the loader caches libraries by path)
    other = build_host_library(small_dir, name="small", build_dir=tmp_path / "b", extra_flags=("-O0",))
    assert other != lib and other.is_file()
    model = ModelLibrary(str(lib), "small", [16], [16], 0)
    x = np.arange(-8, 8, dtype=np.int8).reshape(1, 16)
    np.testing.assert_array_equal(model.run([x])[0], (-1 - x.astype(np.int16)).astype(np.int8))


def test_default_build_dir(small_dir: Path) -> None:
    lib = build_host_library(small_dir, name="small")
    assert lib.parent == small_dir / "build" / "host"


def test_strict_flags_reject_warnings(small_dir: Path, tmp_path: Path) -> None:
    assert {"-Wall", "-Wextra", "-Werror", "-std=c99", "-fPIC", "-shared"} <= set(BASE_FLAGS)
    src = small_dir / "small.c"
    src.write_text(src.read_text() + "\nstatic int unused_function(void) { return 0; }\n")
    with pytest.raises(QCompileError, match="unused_function"):
        build_host_library(small_dir, name="small", build_dir=tmp_path / "b")
    assert not list((tmp_path / "b").glob("*.so"))


def test_missing_compiler(small_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="apt-get install"):
        build_host_library(small_dir, name="small", build_dir=tmp_path / "b", cc="no-such-cc-qcompile")


def test_wrong_folder_or_name(small_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="missing"):
        build_host_library(small_dir, name="other", build_dir=tmp_path / "b")


def test_model_library_errors(small_dir: Path, tmp_path: Path) -> None:
    from qcompile.host._runtime import ModelLibrary

    lib = build_host_library(small_dir, name="small", build_dir=tmp_path / "b")
    with pytest.raises(OSError, match="no symbol"):
        ModelLibrary(str(lib), "other", [16], [16], 0)
    with pytest.raises(OSError, match="cannot load"):
        ModelLibrary(str(tmp_path / "missing.so"), "small", [16], [16], 0)
    model = ModelLibrary(str(lib), "small", [16], [16], 64, output_shapes=[(1, 16)])
    with pytest.raises(TypeError):
        model.run([np.zeros((2, 16), dtype=np.int16)])
    with pytest.raises(ValueError, match="values per sample"):
        model.run([np.zeros((2, 15), dtype=np.int8)])
    with pytest.raises(ValueError, match="takes 1 inputs"):
        model.run([np.zeros((2, 16), dtype=np.int8)] * 2)
    assert model.run([np.zeros((0, 16), dtype=np.int8)])[0].shape == (0, 1, 16)
    out = model.run(np.ones((3, 1, 16), dtype=np.int8))
    assert out[0].shape == (3, 1, 16) and np.all(out[0] == -2)
    model.close()
    with pytest.raises(RuntimeError, match="closed"):
        model.run([np.zeros((1, 16), dtype=np.int8)])
