"""The arena guard under QEMU (``verify --qemu`` builds with ``QC_ARENA_GUARD``, issue 14)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.targets import load_target
from qcompile.tools.firmware.verify_qemu import verify_on_qemu


def test_guard_under_qemu(kws_tflite: Path, tmp_path: Path) -> None:
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm not installed")
    out = tmp_path / "out"
    target = load_target("cortex-m7")
    report = compile_model(
        kws_tflite, out, CompileOptions(target="cortex-m7", name="m", progress=False, io_in_arena=True)
    )
    ok = verify_on_qemu(out, target, limit=2)
    assert ok.result.bit_exact == ok.result.samples == 2  # canaries intact on correct code
    source = out / "m.c"
    text = source.read_text()
    # one alignment step too far (the DSP kernels' word accesses fault when misaligned):
    # the buffer ending at the arena's end writes into the trailing canary
    step = report["arena_alignment"]
    source.write_text(re.sub(r"\(arena \+ (\d+)\)", lambda m: f"(arena + {int(m.group(1)) + step})", text))
    with pytest.raises(QCompileError, match="arena guard tripped on sample 0"):
        verify_on_qemu(out, target, limit=1, force=True)


@pytest.mark.parametrize("model", ["resnet8_tflite", "kws_tflite"])
def test_canaries_intact_on_the_mlperf_models(model: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Both MLPerf models, pointer API: the arena and the harness's input and output canaries
    stay intact on every sample under QEMU."""
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm not installed")
    out = tmp_path / "out"
    compile_model(request.getfixturevalue(model), out, CompileOptions(target="cortex-m7", name="m", progress=False))
    checked = verify_on_qemu(out, load_target("cortex-m7"), limit=3)
    assert checked.result.bit_exact == checked.result.samples == 3


def test_guard_under_qemu_aarch64(kws_tflite: Path, tmp_path: Path) -> None:
    """The Cortex-A verify program is a guarded build too: an arena overrun is named."""
    if shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None:
        pytest.skip("aarch64-linux-gnu-gcc or qemu-aarch64 not installed")
    out = tmp_path / "out"
    report = compile_model(kws_tflite, out, CompileOptions(target="cortex-a53", name="m", progress=False))
    target = load_target("cortex-a53")
    assert verify_on_qemu(out, target, limit=2).result.ok
    source = out / "m.c"
    step = report["arena_alignment"]
    source.write_text(
        re.sub(r"\(arena \+ (\d+)\)", lambda m: f"(arena + {int(m.group(1)) + step})", source.read_text())
    )
    with pytest.raises(QCompileError, match="arena guard tripped on sample 0: a layer of m wrote outside the arena"):
        verify_on_qemu(out, target, limit=1, force=True)
