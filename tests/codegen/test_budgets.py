"""Flash, code and stack at compile time (issue 14): the report's ``flash`` section and ``--flash-budget``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_runner import run_cli

from qcompile.compiler import CompileOptions, compile_model


def test_flash_section_measured_for_cortex_m7(kws_tflite: Path, tmp_path: Path) -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    report = compile_model(kws_tflite, tmp_path / "out", CompileOptions(target="cortex-m7", name="m", progress=False))
    flash = report["flash"]
    assert flash["weights_bytes"] + flash["bias_and_multipliers_bytes"] == report["weight_bytes"]
    assert flash["code_source"].startswith("arm-none-eabi-size")
    assert 0 < flash["code_bytes"] <= 12 * 1024  # the code bound (ResNet-8); DS-CNN is as small
    assert 0 < flash["stack_bytes"] < 1024
    assert flash["total_bytes"] == report["weight_bytes"] + flash["code_bytes"]


def test_host_code_is_an_estimate(kws_tflite: Path, tmp_path: Path) -> None:
    report = compile_model(kws_tflite, tmp_path / "out", CompileOptions(target="host", name="m", progress=False))
    assert report["flash"]["code_source"] == "estimate" and report["flash"]["stack_bytes"] is None


def test_flash_budget_fails_fast_naming_the_biggest(kws_tflite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("compile", kws_tflite, "-o", out, "--target", "host", "--flash-budget", "20000")
    assert result.returncode == 1
    assert "flash budget exceeded" in result.stderr and "biggest constants" in result.stderr
    assert not out.exists()


def test_arena_section(kws_tflite: Path, tmp_path: Path) -> None:
    """--arena-section: the static arena carries the section attribute; a bad name is refused."""
    options = CompileOptions(target="host", name="m", progress=False, arena_section=".dtcm_bss")
    compile_model(kws_tflite, tmp_path / "out", options)
    assert 'section(".dtcm_bss")' in (tmp_path / "out" / "m.c").read_text()
    result = run_cli("compile", kws_tflite, "-o", tmp_path / "bad", "--arena-section", "a b")
    assert result.returncode == 1 and "--arena-section" in result.stderr and not (tmp_path / "bad").exists()
