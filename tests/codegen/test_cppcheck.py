"""cppcheck finds nothing in generated folders: the digits example for the host (portable
kernels) and for cortex-m7 (DSP kernels and qc_dsp_helpers.h, analysed with the DSP
extension's macros defined).

Checks: errors, warnings, portability and performance. Style findings are not checked:
generated code has every shape as a literal, so expressions such as `p % 1` (an output one
pixel wide) are expected. Suppressions (CPPCHECK_SUPPRESSIONS) are only for false
positives, each with the reason next to it; there are none today.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLE_DIR

from qcompile.compiler import CompileOptions, compile_model

pytestmark = pytest.mark.skipif(shutil.which("cppcheck") is None, reason="cppcheck is not installed (scripts/setup.sh)")

#: cppcheck --suppress entries for justified false positives (id:file[:line]), with the reason.
CPPCHECK_SUPPRESSIONS: tuple[str, ...] = ()

#: per target: the preprocessor configuration the folder is built with
CONFIGS = {
    "host": ("-D__GNUC__",),
    "cortex-m7": ("-D__GNUC__", "-D__arm__", "-D__ARM_FEATURE_DSP=1"),
}


def cppcheck(folder: Path, defines: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """cppcheck over a generated folder (its .c files and runtime/), one configuration."""
    sources = sorted(folder.glob("*.c")) + sorted((folder / "runtime").glob("*.c"))
    args = ["cppcheck", "--std=c99", "--enable=warning,performance,portability", "--error-exitcode=1", "--quiet"]
    args += ["--max-configs=1", "--inline-suppr", *defines, f"-I{folder}", f"-I{folder / 'runtime'}"]
    args += [f"--suppress={s}" for s in CPPCHECK_SUPPRESSIONS]
    return subprocess.run([*args, *map(str, sources)], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("target", sorted(CONFIGS))
def test_generated_digits_folder_is_cppcheck_clean(tmp_path: Path, target: str) -> None:
    out = tmp_path / target
    options = CompileOptions(target=target, calib=EXAMPLE_DIR / "calib.npz", progress=False)
    compile_model(EXAMPLE_DIR / "digits_cnn.onnx", out, options)
    if target != "host":
        assert (out / "runtime" / "qc_dsp_helpers.h").is_file()
    result = cppcheck(out, CONFIGS[target])
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_cppcheck_reports_an_out_of_bounds_write(tmp_path: Path) -> None:
    """The check can fail: an obvious overflow in a generated-looking file is reported."""
    (tmp_path / "runtime").mkdir()
    (tmp_path / "bad.c").write_text("int f(void) { int a[4]; a[4] = 1; return a[0]; }\n")
    result = cppcheck(tmp_path, CONFIGS["host"])
    assert result.returncode != 0 and "arrayIndexOutOfBounds" in result.stderr + result.stdout
