"""The arena guard of verify builds (issue 14): canaries around the arena, checked after every run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.tools.verify import verify


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, kws_tflite: Path) -> Path:
    out = tmp_path_factory.mktemp("guard") / "out"
    compile_model(kws_tflite, out, CompileOptions(target="host", name="m", progress=False))
    return out


def test_guard_quiet_on_correct_code(folder: Path) -> None:
    result = verify(folder, limit=4, float_model=False)
    assert result.bit_exact == result.samples == 4


def test_one_byte_past_the_arena_trips_the_guard(folder: Path) -> None:
    """Corrupt the generated source: every arena offset one byte further, so the buffer
    that ends at the arena's end writes one byte into the trailing canary."""
    source = folder / "m.c"
    text = source.read_text()
    corrupted, count = re.subn(r"\(arena \+ (\d+)\)", lambda m: f"(arena + {int(m.group(1)) + 1})", text)
    assert count > 0
    source.write_text(corrupted)
    try:
        with pytest.raises(
            QCompileError, match="arena guard tripped on sample 0: a layer of m wrote outside the arena"
        ):
            verify(folder, limit=1, float_model=False)
    finally:
        source.write_text(text)
