"""--memory-regions end to end (issue 14): an MLPerf model split over two RAMs is bit-exact on
the host and under QEMU (canaries around both regions intact), its region arrays land in the
named linker sections of an arm-none-eabi object, and bad region files fail clearly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_runner import run_cli

import qcompile
from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.targets import load_target
from qcompile.tools.firmware.verify_qemu import verify_on_qemu
from qcompile.tools.verify import verify

REGIONS = """\
[sram]
size = 262144
cycles = 2
section = ".sram_bss"

[dtcm]
size = 16384
cycles = 1
section = ".dtcm_bss"
"""

CROSS = shutil.which("arm-none-eabi-gcc") and shutil.which("arm-none-eabi-objdump")


def _sections(obj: Path) -> dict[str, str]:
    """Symbol -> section from ``arm-none-eabi-objdump -t``."""
    table = subprocess.run(["arm-none-eabi-objdump", "-t", str(obj)], capture_output=True, text=True, check=True)
    found = {}
    for line in table.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1].startswith("m_"):
            found[parts[-1]] = parts[-3]
    return found


@pytest.fixture(scope="module")
def resnet8_regions(tmp_path_factory: pytest.TempPathFactory, resnet8_tflite: Path) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("regions")
    (tmp / "regions.toml").write_text(REGIONS)
    options = CompileOptions(
        target="cortex-m7", name="m", progress=False, memory_regions=tmp / "regions.toml", io_in_arena=True
    )
    report = compile_model(resnet8_tflite, tmp / "out", options)
    return tmp / "out", report


def test_resnet8_split_over_two_regions(resnet8_regions: tuple[Path, dict]) -> None:
    out, report = resnet8_regions
    dtcm, sram = report["memory_regions"]
    assert (dtcm["name"], sram["name"]) == ("dtcm", "sram")  # fastest first
    assert 0 < dtcm["used_bytes"] <= 16384 and 0 < sram["used_bytes"] <= 262144
    assert report["arena_bytes"] == dtcm["used_bytes"] + sram["used_bytes"]
    # per byte, the fast region holds the busier buffers
    assert dtcm["traffic_bytes"] / dtcm["used_bytes"] > sram["traffic_bytes"] / sram["used_bytes"]
    header = (out / "m.h").read_text()
    assert f"#define M_ARENA_SIZE {dtcm['used_bytes']}" in header
    assert f"#define M_REGION_SRAM_SIZE {sram['used_bytes']}" in header
    result = verify(out, limit=8, float_model=False)
    assert result.bit_exact == result.samples == 8


@pytest.mark.skipif(not CROSS, reason="arm-none-eabi-gcc not installed")
def test_region_arrays_in_their_sections(resnet8_regions: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = resnet8_regions
    target = load_target("cortex-m7")
    for guard in ([], ["-DQC_ARENA_GUARD"]):
        obj = tmp_path / f"m{len(guard)}.o"
        cmd = [target.cc, *target.cflags, "-std=c99", "-Wall", "-Wextra", "-Werror", *guard]
        cmd += [f"-I{out}", f"-I{out / 'runtime'}", "-c", str(out / "m.c"), "-o", str(obj)]
        subprocess.run(cmd, check=True, capture_output=True)
        suffix = "_guarded" if guard else ""
        sections = _sections(obj)
        assert sections[f"m_arena{suffix}"] == ".dtcm_bss"
        assert sections[f"m_arena_sram{suffix}"] == ".sram_bss"


@pytest.mark.skipif(not (CROSS and shutil.which("qemu-system-arm")), reason="arm-none-eabi-gcc / QEMU missing")
def test_resnet8_regions_under_qemu(resnet8_regions: tuple[Path, dict]) -> None:
    out, report = resnet8_regions
    checked = verify_on_qemu(out, load_target("cortex-m7"), limit=3)
    assert checked.result.bit_exact == checked.result.samples == 3  # canaries of both regions intact
    assert checked.sizes.arena >= report["arena_bytes"]  # the region sections are linked as the arena


def test_region_errors(tmp_path: Path, kws_tflite: Path) -> None:
    with pytest.raises(QCompileError, match="fits in no region: tiny 1,024 B"):
        qcompile.compile(kws_tflite, tmp_path / "a", memory_regions={"tiny": {"size": 1024, "speed": 1}})
    with pytest.raises(QCompileError, match="--arena-section and --memory-regions"):
        qcompile.compile(
            kws_tflite, tmp_path / "b", arena_section=".x", memory_regions={"r": {"size": 10**6, "speed": 1}}
        )
    bad = tmp_path / "regions.toml"
    bad.write_text("[dtcm]\nsize = 1024\n")
    with pytest.raises(QCompileError, match="exactly one of speed"):
        qcompile.compile(kws_tflite, tmp_path / "c", memory_regions=bad)
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_cli_regions_table_and_errors(tmp_path: Path, kws_tflite: Path) -> None:
    regions = tmp_path / "regions.toml"
    regions.write_text('[dtcm]\nsize = 8192\nspeed = 1\nsection = ".dtcm_bss"\n\n[sram]\nsize = 65536\nspeed = 2\n')
    done = run_cli(kws_tflite, "-o", tmp_path / "out", "--memory-regions", regions, "--name", "m")
    assert done.returncode == 0, done.stderr
    assert "region dtcm" in done.stdout and "section .dtcm_bss" in done.stdout and "region sram" in done.stdout
    regions.write_text("[dtcm]\nsize = 512\nspeed = 1\n")
    failed = run_cli(kws_tflite, "-o", tmp_path / "small", "--memory-regions", regions)
    assert failed.returncode == 1
    assert "fits in no region: dtcm 512 B" in failed.stderr and "Traceback" not in failed.stderr
    assert not (tmp_path / "small").exists()


def test_below_bound_plan_that_fits_no_region_is_reported(tmp_path: Path, kws_tflite: Path) -> None:
    """Two 9,000 B regions hold DS-CNN layer by layer (8,000 B tensors) but not its overlapped
    chain: with a --ram-budget the compile says it fell back, in report.json, on the console,
    and in the budget error when the layer-by-layer plan is too large."""
    regions = tmp_path / "regions.toml"
    regions.write_text("[dtcm]\nsize = 9000\nspeed = 1\n\n[sram]\nsize = 9000\nspeed = 2\n")
    done = run_cli(kws_tflite, "-o", tmp_path / "out", "--memory-regions", regions, "--ram-budget", "17000")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["warnings"]) == 1 and "fits no region" in report["warnings"][0]
    assert "the layer-by-layer plan is used" in report["warnings"][0] and not report["below_bound"]["used"]
    assert "warning: --ram-budget with --memory-regions" in done.stdout
    plain = qcompile.compile(kws_tflite, tmp_path / "plain", memory_regions=regions, progress=False)
    assert plain.report["warnings"] == []  # no budget: nothing was asked for, nothing given up
    with pytest.raises(QCompileError, match="RAM budget exceeded.*fits no region.*layer-by-layer plan is used"):
        qcompile.compile(kws_tflite, tmp_path / "tight", memory_regions=regions, ram_budget=16100, progress=False)
