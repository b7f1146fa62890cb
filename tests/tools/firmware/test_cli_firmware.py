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
    assert "total" in proc.stdout and "conv2d" in proc.stdout
    again = run_cli("bench", digits_m7, "--family", "portable", "--family", "dsp")
    assert again.stdout == proc.stdout  # instruction counts are deterministic
    proc = run_cli("bench", digits_m7, "--family", "helium9")
    assert proc.returncode == 1 and "portable" in proc.stderr
