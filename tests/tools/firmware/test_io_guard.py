"""I/O canaries in verify --qemu images: the harness's input and output buffers are surrounded
by canary bytes (verify builds, QC_ARENA_GUARD) checked after every run; a model writing one
byte past its output buffer is reported by name, and an intact build verifies as usual."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.targets import load_target
from qcompile.tools.firmware.verify_qemu import verify_on_qemu

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")),
    reason="qemu-system-arm / arm-none-eabi-gcc not installed",
)


def test_output_overrun_trips_the_io_guard(tmp_path: Path, kws_onnx: Path, kws_data: Path) -> None:
    with np.load(kws_data) as d:
        x = ((d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])).reshape(-1, 1, 49, 10)
    np.savez(tmp_path / "calib.npz", input_1=x[:20])
    out = tmp_path / "out"
    compile_model(
        kws_onnx, out, CompileOptions(calib=tmp_path / "calib.npz", name="m", progress=False, target="cortex-m7")
    )
    target = load_target("cortex-m7")
    assert verify_on_qemu(out, target, limit=2).result.ok
    # the softmax writes one element more than the 12-class output buffer holds (the dsp
    # family's softmax kernel, templates/kernels/dsp/softmax.c.j2: its output loop's bound)
    source = out / "m_kernels.c"
    text = source.read_text()
    loop = "for (c = 0; c < 12; ++c) {\n            const int64_t p"
    assert text.count(loop) == 1
    source.write_text(text.replace(loop, loop.replace("12", "13")))
    shutil.rmtree(out / "build", ignore_errors=True)
    with pytest.raises(QCompileError, match="I/O guard tripped on sample 0"):
        verify_on_qemu(out, target, limit=2)
