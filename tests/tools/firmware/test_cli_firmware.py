"""`qcompile verify --qemu` and `qcompile bench` from the command line, on the digits example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_DIR


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qcompile", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def digits_m7(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_fw") / "digits"
    proc = run_cli(
        EXAMPLE_DIR / "digits_cnn.onnx", "--target", "cortex-m7", "--calib", EXAMPLE_DIR / "calib.npz", "-o", out
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_verify_qemu(digits_m7: Path) -> None:
    proc = run_cli("verify", digits_m7, "--qemu", "--data", EXAMPLE_DIR / "test.npz", "-n", "40")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bit-exact: 40/40" in proc.stdout
    assert f"data: {EXAMPLE_DIR / 'test.npz'} (--data), 40 samples" in proc.stdout
    assert "mps2-an500" in proc.stdout
    for label in ("weights", "model code", "arena"):
        assert label in proc.stdout


def test_verify_qemu_on_another_target(digits_m7: Path) -> None:
    proc = run_cli(
        "verify", digits_m7, "--qemu", "--target", "cortex-m33", "--data", EXAMPLE_DIR / "test.npz", "-n", "8"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bit-exact: 8/8" in proc.stdout and "mps2-an505" in proc.stdout


def test_verify_qemu_bad_targets(digits_m7: Path) -> None:
    proc = run_cli("verify", digits_m7, "--qemu", "--target", "host")
    assert proc.returncode == 1 and "no QEMU machine" in proc.stderr and "cortex-m4" in proc.stderr
    proc = run_cli("verify", digits_m7, "--qemu", "--target", "cortex-m99")
    assert proc.returncode == 1 and "cortex-m55" in proc.stderr
    proc = run_cli("verify", digits_m7, "--target", "cortex-m7")
    assert proc.returncode == 1 and "--qemu" in proc.stderr


def test_bench_families_side_by_side(digits_m7: Path) -> None:
    proc = run_cli("bench", digits_m7, "--family", "portable", "--family", "dsp")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "portable: bit-exact 1/1" in proc.stdout and "dsp: bit-exact 1/1" in proc.stdout
    assert "total" in proc.stdout and "conv2d" in proc.stdout and "one flat arena of" in proc.stdout
    again = run_cli("bench", digits_m7, "--family", "portable", "--family", "dsp")
    assert again.stdout == proc.stdout  # instruction counts are deterministic
    proc = run_cli("bench", digits_m7, "--family", "helium9")
    assert proc.returncode == 1 and "portable" in proc.stderr


def test_bench_keeps_the_folders_memory_regions(tmp_path: Path) -> None:
    """Each family is generated over the regions the folder was compiled with, and the bench
    says per family what each region holds."""
    regions = tmp_path / "regions.toml"
    regions.write_text('[dtcm]\nsize = 1024\nspeed = 1\nsection = ".dtcm_bss"\n\n[sram]\nsize = 65536\nspeed = 2\n')
    out = tmp_path / "digits"
    args = ["--target", "cortex-m7", "--calib", EXAMPLE_DIR / "calib.npz", "--memory-regions", regions]
    assert run_cli(EXAMPLE_DIR / "digits_cnn.onnx", *args, "-o", out).returncode == 0
    proc = run_cli("bench", out, "--family", "portable", "--family", "dsp")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if ": bit-exact 1/1; regions dtcm " in line]
    assert [line.split(":")[0] for line in lines] == ["portable", "dsp"]
    assert all(" of 1,024 B, sram " in line and "one flat arena" not in line for line in lines)
    assert all(int(line.split(", sram ")[1].split(" of ")[0].replace(",", "")) > 0 for line in lines)


def test_verify_qemu_force_replaces_a_user_build_folder(digits_m7: Path, tmp_path: Path) -> None:
    """Without --force a user's DIR/build is refused (tests/outdir); with it, it is replaced and
    marked, and the build runs there."""
    import shutil

    from qcompile.outdir import read_marker

    out = tmp_path / "digits"
    shutil.copytree(digits_m7, out, ignore=shutil.ignore_patterns("build"))
    (out / "build").write_text("a user's file named build\n")
    proc = run_cli("verify", out, "--qemu", "-n", "2")
    assert proc.returncode == 1 and "--force" in proc.stderr and (out / "build").is_file()
    proc = run_cli("verify", out, "--qemu", "-n", "2", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "bit-exact: 2/2" in proc.stdout and "calibration file recorded at compile time" in proc.stdout
    assert read_marker(out / "build")["kind"] == "build" and (out / "build" / "cortex-m7").is_dir()
