"""qc_acle.h: the portable emulation of the DSP intrinsics against the Arm pseudo-code
(re-stated independently in numpy here) and, when an Armv7-A cross compiler and qemu-arm
are installed, against the real instructions (same SMLAD/SXTB16/SSAT semantics as M-profile)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
INCLUDE = REPO / "runtime_c" / "include"

# Every emulated intrinsic, printed for each operand triple (a, b, c) read from stdin.
_PROGRAM = r"""
#include <stdio.h>
#include <inttypes.h>
#include "qc_acle.h"
int main(void) {
    unsigned long a, b;
    long c;
    while (scanf("%lu %lu %ld", &a, &b, &c) == 3) {
        const uint32_t x = (uint32_t)a, y = (uint32_t)b;
        const int32_t z = (int32_t)c;
        printf("%" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRId32 " %" PRId32 " %" PRId32
               " %" PRId32 " %" PRId32 " %" PRId32 " %" PRId32 " %" PRId32 " %" PRId32 " %" PRId32 " %" PRIu32
               " %" PRIu32 "\n",
               qc_sxtb16(x), qc_sxtb16_ror8(x), qc_sxtab16(x, y), qc_ror(x, 8u), qc_ror(x, 13u),
               qc_smlad(x, y, z), qc_smladx(x, y, z), qc_smlabb(x, y, z), qc_smlatt(x, y, z), qc_smulbb(x, y),
               qc_qadd(z, (int32_t)x), qc_qsub(z, (int32_t)x), qc_ssat(z, 8), qc_ssat(z, 16), qc_usat(z, 8),
               (uint32_t)qc_pkhbt(x, y, 16), (uint32_t)qc_pkhtb(x, y, 16));
    }
    return 0;
}
"""


def _s16(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.int64) & 0xFFFF
    return np.where(v >= 0x8000, v - 0x10000, v)


def _s8(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.int64) & 0xFF
    return np.where(v >= 0x80, v - 0x100, v)


def _u32(v: np.ndarray) -> np.ndarray:
    return v.astype(np.int64) & 0xFFFFFFFF


def _s32(v: np.ndarray) -> np.ndarray:
    v = _u32(v)
    return np.where(v >= 2**31, v - 2**32, v)


def _pack(bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    return (bottom & 0xFFFF) | ((top & 0xFFFF) << 16)


def _ror(x: np.ndarray, n: int) -> np.ndarray:
    x = _u32(x)
    return _u32((x >> n) | (x << (32 - n))) if n else x


def _expected(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The Armv7-M ARM pseudo-code of each instruction, in int64 numpy."""
    byte = [_s8(a >> (8 * i)) for i in range(4)]
    lo_a, hi_a, lo_b, hi_b = _s16(a), _s16(a >> 16), _s16(b), _s16(b >> 16)
    sat = lambda v, lo, hi: np.clip(v, lo, hi)  # noqa: E731
    cols = [
        _pack(byte[0], byte[2]),
        _pack(byte[1], byte[3]),
        _pack(lo_a + _s8(b), hi_a + _s8(b >> 16)),
        _ror(a, 8),
        _ror(a, 13),
        _s32(c + lo_a * lo_b + hi_a * hi_b),
        _s32(c + lo_a * hi_b + hi_a * lo_b),
        _s32(c + lo_a * lo_b),
        _s32(c + hi_a * hi_b),
        lo_a * lo_b,
        sat(c + _s32(a), -(2**31), 2**31 - 1),
        sat(c - _s32(a), -(2**31), 2**31 - 1),
        sat(c, -128, 127),
        sat(c, -32768, 32767),
        sat(c, 0, 255),
        (a & 0xFFFF) | ((b << 16) & 0xFFFF0000),
        (a & 0xFFFF0000) | ((b >> 16) & 0xFFFF),
    ]
    return np.stack(cols, axis=1)


def _operands(n: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2**32, size=n, dtype=np.int64)
    b = rng.integers(0, 2**32, size=n, dtype=np.int64)
    c = rng.integers(-(2**31), 2**31, size=n, dtype=np.int64)
    # edge values: extremes of every lane, small saturation-range numbers
    edges = np.array([0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x80008000, 0x7FFF7FFF, 0xFFFFFFFF, 0x80000000])
    ea, eb = np.meshgrid(edges, edges)
    ec = np.resize(np.array([0, -1, 127, 128, -128, -129, 255, 256, 2**31 - 1, -(2**31), 32767, -32769]), ea.size)
    a = np.concatenate([a, ea.reshape(-1)])
    b = np.concatenate([b, eb.reshape(-1)])
    c = np.concatenate([c, ec, rng.integers(-300, 300, size=0)])
    return a, b, c


def _run(binary: list[str], a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    stdin = "".join(f"{x} {y} {z}\n" for x, y, z in zip(a.tolist(), b.tolist(), c.tolist(), strict=True))
    proc = subprocess.run(binary, input=stdin, capture_output=True, text=True, check=True, timeout=120)
    return np.array([[int(t) for t in line.split()] for line in proc.stdout.splitlines()], dtype=np.int64)


def _build(tmp_path: Path, cc: str, flags: list[str]) -> Path:
    src = tmp_path / "acle.c"
    src.write_text(_PROGRAM)
    exe = tmp_path / f"acle-{Path(cc).name}"
    cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{INCLUDE}", *flags, str(src), "-o"]
    subprocess.run([*cmd, str(exe)], check=True, capture_output=True, text=True)
    return exe


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("flags", [[], ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]])
def test_emulation_matches_arm_pseudocode(tmp_path: Path, flags: list[str]) -> None:
    a, b, c = _operands()
    got = _run([str(_build(tmp_path, "gcc", flags))], a, b, c)
    np.testing.assert_array_equal(got, _expected(a, b, c))


@pytest.mark.skipif(
    shutil.which("arm-linux-gnueabihf-gcc") is None or shutil.which("qemu-arm") is None,
    reason="arm-linux-gnueabihf-gcc / qemu-arm not installed",
)
def test_emulation_matches_real_instructions(tmp_path: Path) -> None:
    """Armv7-A with the DSP extension runs the real SMLAD/SXTB16/...; the x86 emulation must agree."""
    a, b, c = _operands(1500)
    native = _build(tmp_path, "arm-linux-gnueabihf-gcc", ["-march=armv7-a+fp", "-mthumb", "-static"])
    assert (
        b"sxtb16"
        in subprocess.run(["arm-linux-gnueabihf-objdump", "-d", str(native)], capture_output=True, check=True).stdout
    )
    real = _run(["qemu-arm", str(native)], a, b, c)
    emulated = _run([str(_build(tmp_path, "gcc", []))], a, b, c)
    np.testing.assert_array_equal(emulated, real)
    np.testing.assert_array_equal(real, _expected(a, b, c))
