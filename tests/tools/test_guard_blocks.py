"""Verify builds guard every RAM block (issue 14): the arena, each other memory region, the
state buffer and, on the host, the caller's input and output buffers; a write past any of them
is reported naming that block (qcompile.tools.guards)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.tools.guards import tripped_block
from qcompile.tools.verify import verify

STREAMING = Path(__file__).resolve().parents[1] / "data" / "streaming" / "streaming_kws.tflite"
REGIONS = {"dtcm": {"size": 8192, "speed": 1}, "sram": {"size": 65536, "speed": 2}}


def _corrupted(source: Path, pattern: str, shift: int) -> str:
    """Move every pointer matching ``pattern`` (group 1: an offset) ``shift`` bytes further."""
    text = source.read_text()
    changed, count = re.subn(pattern, lambda m: m.group(0).replace(m.group(1), str(int(m.group(1)) + shift)), text)
    assert count > 0
    source.write_text(changed)
    return text


def test_tripped_block_codes() -> None:
    blocks = ["region dtcm (the arena)", "region sram", "state"]
    assert tripped_block(12, 10, blocks) == ("model", "region dtcm (the arena)")
    assert tripped_block(14, 10, blocks) == ("model", "state")
    assert tripped_block(15, 10, blocks, 1, 2) == ("io", "input 0")
    assert tripped_block(17, 10, blocks, 1, 2) == ("io", "output 1")
    assert tripped_block(18, 10, blocks, 1, 2) is None
    assert tripped_block(15, 10, blocks) is None  # no harness buffers: not a guard code
    assert tripped_block(11, 10, blocks) is None  # a NULL output pointer


def test_write_past_a_memory_region_names_it(tmp_path: Path, kws_tflite: Path) -> None:
    out = tmp_path / "out"
    report = compile_model(kws_tflite, out, CompileOptions(name="m", progress=False, memory_regions=REGIONS))
    assert report["guard_blocks"] == ["region dtcm (the arena)", "region sram"]
    assert all(r["used_bytes"] for r in report["memory_regions"])
    assert verify(out, limit=3, float_model=False).ok  # canaries intact on correct code
    text = _corrupted(out / "m.c", r"\(m_arena_sram \+ (\d+)\)", 1)
    try:
        with pytest.raises(QCompileError, match="arena guard tripped on sample 0: .* outside the region sram"):
            verify(out, limit=1, float_model=False)
    finally:
        (out / "m.c").write_text(text)


def test_write_past_the_state_buffer_names_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = compile_model(STREAMING, out, CompileOptions(name="m", progress=False))
    assert report["guard_blocks"] == ["arena", "state"]
    assert verify(out, limit=4, float_model=False).ok
    # the new state is copied one byte further: the last variable's copy hits the trailing canary
    _corrupted(out / "m.c", r"outs\[\d+\] = m_state \+ (\d+);", 1)
    with pytest.raises(QCompileError, match="arena guard tripped on sample 0: .* outside the state"):
        verify(out, limit=2, float_model=False)


def test_host_output_overrun_trips_the_io_guard(tmp_path: Path, kws_tflite: Path) -> None:
    out = tmp_path / "out"
    compile_model(kws_tflite, out, CompileOptions(name="m", progress=False))
    source = out / "m.c"
    text = source.read_text()
    assert text.count(".depth = 12,") == 1  # the softmax writes the 12-class output
    source.write_text(text.replace(".depth = 12,", ".depth = 13,"))
    with pytest.raises(QCompileError, match="I/O guard tripped on sample 0: m wrote outside output 0's buffer"):
        verify(out, limit=2, float_model=False)
