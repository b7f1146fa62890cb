"""Host builds of the example model run sanitizer-clean: the generated folder built with
ASan + UBSan, inputs, outputs and arena at the ends of guarded mappings, outputs equal to
the numpy reference (tests/c_driver.py: check_model_sanitized). The MLPerf models and the
op zoo get the same check in their own end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from c_driver import check_model_sanitized
from conftest import EXAMPLE_DIR

from qcompile.compiler import CompileOptions, compile_model


@pytest.mark.parametrize("target", ["host", "cortex-m7"])  # portable kernels; DSP kernels (emulated)
def test_digits_example_sanitized(tmp_path: Path, target: str) -> None:
    out = tmp_path / "digits"
    compile_model(
        EXAMPLE_DIR / "digits_cnn.onnx",
        out,
        CompileOptions(target=target, calib=EXAMPLE_DIR / "calib.npz", progress=False),
    )
    check_model_sanitized(out, tmp_path, samples=5)
