"""`verify_on_qemu` takes its inputs exactly as the host `verify` does (``outdir.load_samples``).

A folder compiled from an int8 ``.tflite`` records no calibration file: both verifications
must run it on int8 samples (random unless given) instead of asking for float data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (needed to build the .tflite) is not installed")

from tflite_builder import PAD, ModelBuilder  # noqa: E402

from qcompile.compiler import CompileOptions, compile_model  # noqa: E402
from qcompile.targets import load_target  # noqa: E402
from qcompile.tools.firmware.verify_qemu import verify_on_qemu  # noqa: E402
from qcompile.tools.verify import verify  # noqa: E402


@pytest.fixture(scope="module")
def tflite_m7(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LOGISTIC then a 2x2 average pool, compiled for Cortex-M7 from a .tflite."""
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 4, 3), scale=0.05, zero_point=3)
    s = b.tensor("s", (1, 4, 4, 3), scale=1 / 256, zero_point=-128)
    y = b.tensor("y", (1, 2, 2, 3), scale=1 / 256, zero_point=-128)
    b.op("LOGISTIC", [x], [s])
    b.op(
        "AVERAGE_POOL_2D",
        [s],
        [y],
        "Pool2DOptions",
        padding=PAD["VALID"],
        strideW=2,
        strideH=2,
        filterWidth=2,
        filterHeight=2,
    )
    b.inputs, b.outputs = [x], [y]
    root = tmp_path_factory.mktemp("verify_qemu_tflite")
    model = root / "tiny.tflite"
    model.write_bytes(b.finish())
    compile_model(model, root / "out", CompileOptions(target="cortex-m7", progress=False))
    return root / "out"


def test_tflite_folder_verifies_on_host_and_qemu(tflite_m7: Path, tmp_path: Path) -> None:
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    host = verify(tflite_m7, limit=6)
    assert host.ok and host.samples == 6 and not host.outputs  # no float twin: no SQNR rows
    qemu = verify_on_qemu(tflite_m7, load_target("cortex-m7"), limit=6)
    assert qemu.result.ok and qemu.result.samples == 6

    # given int8 data is used as is, on both
    data = tmp_path / "x.npz"
    np.savez(data, x=np.random.default_rng(3).integers(-128, 128, size=(4, 1, 4, 4, 3)).astype(np.int8))
    qemu = verify_on_qemu(tflite_m7, load_target("cortex-m7"), data=data)
    assert qemu.result.ok and qemu.result.samples == 4
    assert np.array_equal(qemu.run.outputs[0].shape, (4, 12))
