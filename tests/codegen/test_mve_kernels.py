"""Helium (MVE) kernel family: the requantisation sequence against TFLM's arithmetic on
its edges; random single layers generated for the mve family, built on the host with the
emulated intrinsics (plain and under ASan/UBSan), bit-exact with the numpy reference; the
same kernels with the real instructions under QEMU (``mps3-an547``), many random layers per
boot: tests/tools/firmware/test_mve_qemu.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_graphs import compile_c, run_under_asan  # noqa: E402
from mve_graphs import check_on_host, conv_add_graph, conv_graph, dw_graph, fc_graph, requant_edges_graph  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.mve import pack_conv_weights, pack_depthwise_weights, use_rows  # noqa: E402
from qcompile.ir import Graph  # noqa: E402
from qcompile.quant.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier, wrap_int32  # noqa: E402
from qcompile.targets import Target  # noqa: E402

MVE = Target(name="mve-host-test", kernel_family="mve", cc="cc", cflags=("-O2",))
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
_SETTINGS = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---- the requantisation sequence (numpy model of the instructions) ------------------------------


def _floor_shift(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.floor_divide(v, np.left_shift(np.int64(1), n))


def mve_mbqm(acc: np.ndarray, m: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """VSHL (wraps), VQRDMULH, the negative fixup with VQADD, VRSHL: as in kernels.c.j2, from
    the Armv8.1-M pseudo-code (VQRDMULH = sat((2 a b + 2^31) >> 32), VRSHL by -e = (x + 2^(e-1)) >> e
    in unbounded precision)."""
    acc, m, shift = (np.asarray(v, dtype=np.int64) for v in (acc, m, shift))
    e = np.maximum(-shift, 0)
    x = wrap_int32(acc << np.maximum(shift, 0))
    # (2 x m + 2^31) >> 32 == (x m + 2^30) >> 31, which stays inside int64 for x = m = INT32_MIN
    x = np.clip(_floor_shift(x * m + (1 << 30), np.int64(31)), INT32_MIN, INT32_MAX)
    x = np.maximum(x - ((x < 0) & (e > 0)), INT32_MIN)
    half = np.where(e > 0, np.left_shift(np.int64(1), np.maximum(e - 1, 0)), 0)
    return _floor_shift(x + half, e)


def test_requant_sequence_equals_tflm_on_every_edge() -> None:
    """Every shift, edge multipliers and accumulators (extremes, around every power of two,
    exact ties of the final rounding), and random ones: 640k cases, identical results."""
    rng = np.random.default_rng(0)
    powers = np.array([1 << p for p in range(31)], dtype=np.int64)
    accs = np.unique(
        np.concatenate(
            [
                [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX],
                powers,
                -powers,
                powers - 1,
                1 - powers,
                powers + 1,
                -powers - 1,
                rng.integers(INT32_MIN, INT32_MAX, size=60, endpoint=True),
                rng.integers(-5000, 5000, size=60),
            ]
        )
    )
    mults = np.array([0, 1, 2, 3, 1 << 30, (1 << 30) + 1, INT32_MAX - 1, INT32_MAX, INT32_MIN, -(1 << 30)])
    mults = np.concatenate([mults, rng.integers(1 << 30, INT32_MAX, size=10)])
    a, m, s = np.meshgrid(accs, mults, np.arange(-31, 32), indexing="ij")
    np.testing.assert_array_equal(mve_mbqm(a, m, s), multiply_by_quantized_multiplier(a, m, s))
    # exact ties after the right shift: m = 2^30 halves, acc = (2t + 1) * 2^e gives t + 1/2
    e = np.arange(1, 31)
    t = np.arange(-40, 40)
    ee, tt = np.meshgrid(e, t, indexing="ij")
    acc = (2 * tt + 1) << ee
    ok = (acc >= INT32_MIN) & (acc <= INT32_MAX)
    acc, ee = acc[ok], ee[ok]
    np.testing.assert_array_equal(mve_mbqm(acc, 1 << 30, -ee), multiply_by_quantized_multiplier(acc, 1 << 30, -ee))


# ---- compile-time packing --------------------------------------------------------------------------


def test_pack_conv_weights_groups_of_four_channels_per_chunk() -> None:
    w = np.arange(5 * 2 * 3).reshape(5, 6) + 1  # OC 5 (-> 8), two segments of 3 taps (-> 16 lanes)
    packed = pack_conv_weights(w, 2).reshape(2, 2, 1, 4, 16)  # [group][segment][chunk][channel][lane]
    np.testing.assert_array_equal(packed[0, 0, 0, 1, :4], [7, 8, 9, 0])
    np.testing.assert_array_equal(packed[0, 1, 0, 3, :3], [22, 23, 24])
    np.testing.assert_array_equal(packed[1, 1, 0, 0, :3], [28, 29, 30])
    assert not packed[1, :, :, 1:].any() and not packed[..., 3:].any()


def test_pack_depthwise_weights_per_group_and_tap() -> None:
    w = np.arange(2 * 1 * 6).reshape(2, 1, 6) + 1  # taps 2, C 6 (-> 8)
    packed = pack_depthwise_weights(w).reshape(2, 2, 4)  # [group][tap][channel]
    np.testing.assert_array_equal(packed[0], [[1, 2, 3, 4], [7, 8, 9, 10]])
    np.testing.assert_array_equal(packed[1], [[5, 6, 0, 0], [11, 12, 0, 0]])


def test_rows_or_im2col_choice() -> None:
    assert use_rows(3, 3, 16, 16) and use_rows(1, 1, 3, 8) and use_rows(3, 3, 64, 64)
    assert not use_rows(10, 4, 1, 64)  # DS-CNN's first layer: ten 4-tap rows would waste 12 lanes each


# ---- random layers, host build with the emulated intrinsics ------------------------------------------


def _check(g: Graph, tmp: Path, *, sanitize: bool = False, batch: int = 3) -> str:
    """The DSP tests' host check (build, run, compare every output), for the mve family."""
    return check_on_host(g, tmp, sanitize=sanitize, batch=batch, target=MVE)


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    c=st.sampled_from([1, 3, 4, 8, 13, 16, 24]),
    oc=st.integers(1, 11),
    k=st.sampled_from([(3, 3), (1, 1), (2, 3), (5, 5), (10, 4)]),
    s=st.integers(1, 2),
    act=st.booleans(),
)
def test_conv_bit_exact(tmp_path: Path, seed: int, hw: tuple, c: int, oc: int, k: tuple, s: int, act: bool) -> None:
    """General, 1x1, strided and first-layer convs (rows read in place or through im2col),
    output channels and taps not multiples of 4/16."""
    pad = k[0] // 2
    if k[0] > hw[0] + 2 * pad or k[1] > hw[1] + 2 * pad:
        return
    src = _check(conv_graph(seed, *hw, c, oc, k, s, pad, act), tmp_path)
    assert "vmladavaq_s8" in src


@_SETTINGS
@given(seed=st.integers(0, 2**16), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)), c=st.sampled_from([4, 16, 64]))
def test_conv_1x1_bit_exact(tmp_path: Path, seed: int, hw: tuple, c: int) -> None:
    src = _check(conv_graph(seed, *hw, c, c, (1, 1), 1, 0, False), tmp_path)
    assert "_im2col" not in src  # every window is inside the input: no gather, no scratch


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(1, 8), st.integers(1, 7)),
    c=st.sampled_from([1, 3, 4, 6, 16, 21]),
    k=st.sampled_from([(3, 3), (1, 3), (5, 5)]),
    s=st.integers(1, 2),
    general=st.booleans(),
)
def test_depthwise_bit_exact(tmp_path: Path, seed: int, hw: tuple, c: int, k: tuple, s: int, general: bool) -> None:
    """Channels not a multiple of 4 (predicated last group), interior and border pixels;
    ``general``: a left shift on the last channel (the requantisation's VSHL)."""
    pad = k[0] // 2
    if k[1] > hw[1] + 2 * pad or k[0] > hw[0] + 2 * pad:
        return
    g = dw_graph(seed, *hw, c, k, s, pad)
    if general:
        shift = np.array(g.nodes[0].attrs["shift"], dtype=np.int32).reshape(-1).copy()
        shift[-1] = 1
        g.nodes[0].attrs["shift"] = shift
    src = _check(g, tmp_path)
    assert "vmulq_s32" in src and ("vctp32q" in src) == (c % 4 != 0)


@_SETTINGS
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 3), k=st.integers(1, 70), n=st.integers(1, 13))
def test_fully_connected_bit_exact(tmp_path: Path, seed: int, rows: int, k: int, n: int) -> None:
    _check(fc_graph(seed, rows, k, n), tmp_path)


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    c=st.sampled_from([3, 8, 16]),
    oc=st.sampled_from([5, 8, 16]),
    operand=st.sampled_from([1, 2]),
)
def test_conv2d_add_bit_exact(tmp_path: Path, seed: int, c: int, oc: int, operand: int) -> None:
    """The fused residual ADD in the epilogue, conv result as either add operand, SUB too."""
    g = conv_add_graph(seed, (6, 5), c, oc, operand, subtract=seed % 3 == 0)
    src = _check(g, tmp_path)
    assert "const int8_t *residual" in src


def test_requant_edges_bit_exact(tmp_path: Path) -> None:
    """The requantisation edges (ties, every shift incl. left shifts) through the C helpers."""
    src = _check(requant_edges_graph(), tmp_path, batch=1)
    assert "_mve_mbqm(" in src


def test_layers_under_sanitizers(tmp_path: Path) -> None:
    """Odd sizes (tails of pixels, channels and taps; borders) under ASan/UBSan."""
    script = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
import test_mve_kernels as t
import mve_graphs as m
tmp = Path({str(tmp_path)!r})
t._check(m.conv_graph(1, 7, 5, 3, 5, (3, 3), 2, 1, True), tmp / "a", sanitize=True)
t._check(m.conv_graph(2, 5, 5, 8, 7, (3, 3), 1, 1, False), tmp / "b", sanitize=True)
t._check(m.conv_graph(3, 11, 6, 1, 6, (10, 4), 2, 1, False), tmp / "f", sanitize=True)
t._check(m.dw_graph(3, 6, 5, 12, (3, 3), 1, 1), tmp / "c", sanitize=True)
t._check(m.dw_graph(5, 6, 5, 7, (3, 3), 2, 1), tmp / "e", sanitize=True)
t._check(m.fc_graph(4, 3, 37, 11), tmp / "d", sanitize=True)
print("SANITIZED-OK")
"""
    run_under_asan(script)


def test_unsupported_layers_fall_back_to_portable(tmp_path: Path) -> None:
    g = dw_graph(5, 5, 5, 6, (3, 3), 1, 1)
    g.nodes[0].attrs.update(dilations=(2, 2), pads=(2, 2, 2, 2))  # dilation 2: same 5x5 output
    generate(g, tmp_path / "out", name=g.name, target=MVE)
    assert not (tmp_path / "out" / f"{g.name}_kernels.c").exists()
    assert "qc_depthwise_conv2d_s8" in (tmp_path / "out" / f"{g.name}.c").read_text()


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_kernels_compile_to_helium_instructions(tmp_path: Path) -> None:
    """-Werror clean with the real arm_mve.h (the emulation cannot hide a misspelt intrinsic)."""
    g = conv_graph(6, 6, 6, 8, 6, (3, 3), 1, 1, True)
    out = tmp_path / "out"
    generate(g, out, name=g.name, target=MVE)
    flags = ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard")
    compile_c(out, "arm-none-eabi-gcc", flags)
    asm = subprocess.run(
        ["arm-none-eabi-gcc", "-std=c99", "-O2", *flags, f"-I{out}", f"-I{out / 'runtime'}"]
        + ["-S", "-o", "-", str(out / f"{g.name}_kernels.c")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "vmladava.s8" in asm and "vqrdmulh.s32" in asm and "vrshl.s32" in asm
