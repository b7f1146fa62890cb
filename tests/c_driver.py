"""Build a C test driver against runtime sources and compare what it prints with the reference.

Shared by the kernel tests that run C directly (under sanitizers, or with call patterns the
Cython binding cannot reach such as strided or in-place buffers): each driver prints one
line of integers per case, in the order of ``expected``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


SANITIZER_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1")


def sanitizing_gcc(tmp_path: Path) -> tuple[str, list[str]]:
    """(gcc, flags) for an ASan + UBSan build; skips the test when gcc or its sanitizer
    runtime is missing."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found")
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    flags = list(SANITIZER_FLAGS)
    if subprocess.run([gcc, *flags, str(probe), "-o", str(tmp_path / "probe")], capture_output=True).returncode:
        pytest.skip("gcc lacks the address/undefined sanitizer runtime")
    return gcc, flags


def run_c_driver(
    tmp_path: Path,
    gcc: str,
    flags: Sequence[str],
    driver_source: str,
    sources: Sequence[Path],
    expected: Sequence[np.ndarray],
) -> None:
    """Compile ``driver_source`` with ``sources``, run it, and check each printed line
    equals the matching ``expected`` array element for element."""
    driver = tmp_path / "driver.c"
    driver.write_text(driver_source)
    exe = tmp_path / "driver"
    build = subprocess.run(
        [
            gcc,
            "-std=c99",
            *flags,
            f"-I{REPO / 'runtime_c' / 'include'}",
            str(driver),
            *map(str, sources),
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected, strict=True):
        np.testing.assert_array_equal(np.array(line.split(), dtype=np.int64), want.reshape(-1).astype(np.int64))
