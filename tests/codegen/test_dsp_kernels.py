"""DSP kernel family: random single layers generated for a dsp target, built on the host
with the emulated intrinsics (plain and under ASan/UBSan), must be bit-exact with the numpy
reference; the MLPerf ResNet-8 and DS-CNN compiled for the dsp family verify 200/200."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from c_driver import check_model_sanitized
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_graphs import DSP, _act, _const, _weighted, compile_c, host_bit_exact, run_under_asan  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp import (  # noqa: E402
    acc_bound,
    fold_conv_bias,
    pack_conv_weights,
    pack_depthwise_weights,
    requant_table,
    words_from_bytes,
)
from qcompile.ir import Graph, Node  # noqa: E402
from qcompile.targets import Target  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
_SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _out_size(n: int, k: int, s: int, p0: int, p1: int) -> int:
    return (n + p0 + p1 - k) // s + 1


def _conv_graph(seed: int, h: int, w: int, c: int, oc: int, k: tuple[int, int], s: int, pad: int, act: bool) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dspconv")
    x = _act(g, "x", (1, h, w, c), 0.05, int(rng.integers(-128, 128)))
    oh, ow = _out_size(h, k[0], s, pad, pad), _out_size(w, k[1], s, pad, pad)
    p = _weighted(rng, 0.05, 0.1, (oc, k[0], k[1], c), oc)
    y = _act(g, "y", (1, oh, ow, oc), 0.1, int(rng.integers(-20, 20)))
    attrs = {
        "strides": (s, s),
        "dilations": (1, 1),
        "pads": (pad, pad, pad, pad),
        "groups": 1,
        "input_offset": -int(g.tensors[x].quant.zero_point),
        "output_offset": int(g.tensors[y].quant.zero_point),
        "multiplier": p["multiplier"],
        "shift": p["shift"],
        "act_min": int(g.tensors[y].quant.zero_point) if act else -128,
        "act_max": 127,
    }
    g.add_node(Node("conv", "conv2d", [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _dw_graph(seed: int, h: int, w: int, c: int, k: tuple[int, int], s: int, pad: int) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dspdw")
    x = _act(g, "x", (1, h, w, c), 0.05, int(rng.integers(-128, 128)))
    oh, ow = _out_size(h, k[0], s, pad, pad), _out_size(w, k[1], s, pad, pad)
    p = _weighted(rng, 0.05, 0.1, (k[0], k[1], c), c)
    y = _act(g, "y", (1, oh, ow, c), 0.1, int(rng.integers(-20, 20)))
    attrs = {
        "strides": (s, s),
        "dilations": (1, 1),
        "pads": (pad, pad, pad, pad),
        "depth_multiplier": 1,
        "input_offset": -int(g.tensors[x].quant.zero_point),
        "output_offset": int(g.tensors[y].quant.zero_point),
        "multiplier": p["multiplier"],
        "shift": p["shift"],
        "act_min": -128,
        "act_max": 100,
    }
    g.add_node(Node("dw", "depthwise_conv2d", [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _fc_graph(seed: int, rows: int, k: int, n: int) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dspfc")
    x = _act(g, "x", (rows, k), 0.05, int(rng.integers(-128, 128)))
    p = _weighted(rng, 0.05, 0.2, (n, k), n)
    y = _act(g, "y", (rows, n), 0.2, 3)
    attrs = {
        "input_offset": -int(g.tensors[x].quant.zero_point),
        "output_offset": 3,
        "multiplier": p["multiplier"],
        "shift": p["shift"],
        "act_min": -128,
        "act_max": 127,
    }
    g.add_node(Node("fc", "fully_connected", [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _check(g: Graph, tmp: Path, *, sanitize: bool = False, batch: int = 3, target: Target = DSP) -> str:
    """Generate for ``target``'s family (dsp), build on the host, compare every output with the
    reference on random int8 inputs; returns the kernels source."""
    rng = np.random.default_rng(batch)
    xs = [rng.integers(-128, 128, size=(batch, *g.tensors[n].shape), dtype=np.int8) for n in g.inputs]
    return host_bit_exact(g, tmp, xs, target=target, sanitize=sanitize)


# ---- compile-time packing ------------------------------------------------------------------


def test_pack_conv_weights_layout() -> None:
    w = np.arange(3 * 5).reshape(3, 5)  # OC 3 (padded to 4), K 5 (padded to 8)
    packed = pack_conv_weights(w)
    assert packed.size == 4 * 8
    # channel pair 0, quad 0: ch0 taps 0-3, ch1 taps 0-3; quad 1: ch0 tap 4 + 3 zeros, ch1 tap 4 + zeros
    np.testing.assert_array_equal(packed[:16], [0, 1, 2, 3, 5, 6, 7, 8, 4, 0, 0, 0, 9, 0, 0, 0])
    np.testing.assert_array_equal(packed[16:24], [10, 11, 12, 13, 0, 0, 0, 0])


def test_fold_conv_bias_wraps_like_int32() -> None:
    w = np.array([[127] * 4, [-127] * 4, [1, 2, 3, 4]])
    b = np.array([2**31 - 1, -(2**31), 5])
    folded = fold_conv_bias(w, b, 128)
    exact = b + 128 * w.sum(axis=1)
    np.testing.assert_array_equal(folded[:3], (exact + 2**31) % 2**32 - 2**31)
    assert folded.size == 4 and folded[3] == 0


def _lanes(words: np.ndarray) -> np.ndarray:
    """int32 words -> their int16 lanes, bottom first."""
    u = np.asarray(words, dtype=np.int64) & 0xFFFFFFFF
    lanes = np.stack([u & 0xFFFF, u >> 16], axis=1).reshape(-1)
    return np.where(lanes >= 0x8000, lanes - 0x10000, lanes)


def test_pack_depthwise_weights_lane_order() -> None:
    w = np.arange(2 * 8).reshape(1, 2, 8) - 8  # [KH=1, KW=2, C=8]: taps 0..7 and 8..15, minus 8
    # [quad][tap][c, c+2, c+1, c+3]: quad 0 tap 0, quad 0 tap 1, quad 1 tap 0, ...
    expect = np.array([0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15]) - 8
    np.testing.assert_array_equal(_lanes(pack_depthwise_weights(w)), expect)
    np.testing.assert_array_equal(_lanes(pack_depthwise_weights(w, double=True)), 2 * expect)


def test_words_from_bytes_little_endian() -> None:
    np.testing.assert_array_equal(words_from_bytes(np.array([1, -1, 0, -128, 127, 0, 0, 0])), [-0x7FFF00FF, 127])


def test_requant_table_only_when_exact() -> None:
    table = requant_table(np.array([2**30, 1518500250]), np.array([-1, -9]), 2**29)
    np.testing.assert_array_equal(table, [2**30, 1, 1, 1518500250, 256, 9])
    assert requant_table(np.array([2**30]), np.array([0]), 10) is None  # e = 0: no rounding shift
    assert requant_table(np.array([2**30]), np.array([2]), 10) is None  # left shift
    assert requant_table(np.array([0]), np.array([-3]), 10) is None
    assert requant_table(np.array([2**30]), np.array([-3]), 2**30) is None  # 2 * acc could overflow


def test_acc_bound_covers_extreme_inputs() -> None:
    w = np.array([[127, -128, 3], [1, 1, 1]])
    bound = acc_bound(w, np.array([-5, 7]), -128)  # x + off in [-256, -1]
    assert bound == 5 + 256 * (127 + 128 + 3)


# ---- random layers, host build with the emulated intrinsics ----------------------------------


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    c=st.sampled_from([4, 8, 12, 16]),
    oc=st.integers(1, 9),
    k=st.sampled_from([(3, 3), (1, 1), (2, 3), (5, 5)]),
    s=st.integers(1, 2),
    act=st.booleans(),
)
def test_conv_general_bit_exact(
    tmp_path: Path, seed: int, hw: tuple, c: int, oc: int, k: tuple, s: int, act: bool
) -> None:
    pad = k[0] // 2 if k[0] <= hw[0] and k[1] <= hw[1] else 0
    if k[0] > hw[0] + 2 * pad or k[1] > hw[1] + 2 * pad:
        return
    src = _check(_conv_graph(seed, *hw, c, oc, k, s, pad, act), tmp_path)
    assert "qc_smlad" in src


@_SETTINGS
@given(seed=st.integers(0, 2**16), c=st.integers(1, 3), oc=st.sampled_from([8, 16, 5]), s=st.integers(1, 2))
def test_conv_first_layer_bit_exact(tmp_path: Path, seed: int, c: int, oc: int, s: int) -> None:
    src = _check(_conv_graph(seed, 8, 7, c, oc, (3, 3), s, 1, True), tmp_path)
    assert "int8_t *stage" in src  # 1-3 channels: gathered through the int8 stage


@_SETTINGS
@given(seed=st.integers(0, 2**16), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)), c=st.sampled_from([4, 8, 64]))
def test_conv_1x1_bit_exact(tmp_path: Path, seed: int, hw: tuple, c: int) -> None:
    _check(_conv_graph(seed, *hw, c, c, (1, 1), 1, 0, False), tmp_path)


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(3, 9), st.integers(3, 7)),
    c=st.sampled_from([4, 8, 16]),
    k=st.sampled_from([(3, 3), (3, 1), (5, 5)]),
    s=st.integers(1, 2),
)
def test_depthwise_bit_exact(tmp_path: Path, seed: int, hw: tuple, c: int, k: tuple, s: int) -> None:
    pad = k[0] // 2
    if k[1] > hw[1] + 2 * pad or k[0] > hw[0] + 2 * pad:
        return
    src = _check(_dw_graph(seed, *hw, c, k, s, pad), tmp_path)
    assert "qc_smlabb" in src


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(1, 7), st.integers(1, 6)),
    c=st.sampled_from([1, 2, 3, 5, 6, 7, 10, 13]),
    k=st.sampled_from([(3, 3), (1, 3), (5, 5)]),
    s=st.integers(1, 2),
    general=st.booleans(),
)
def test_depthwise_channel_tail_bit_exact(
    tmp_path: Path, seed: int, hw: tuple, c: int, k: tuple, s: int, general: bool
) -> None:
    """Channels not a multiple of 4: quads through SMLABB/SMLATT, the rest scalar (also
    with no quad at all), interior and border pixels; one-SMLAL (doubled weights) or, with
    a left shift on the last channel, the general requantisation."""
    pad = k[0] // 2
    if k[1] > hw[1] + 2 * pad or k[0] > hw[0] + 2 * pad:
        return
    g = _dw_graph(seed, *hw, c, k, s, pad)
    if general:
        shift = np.array(g.nodes[0].attrs["shift"], dtype=np.int32).reshape(-1).copy()
        shift[-1] = 1
        g.nodes[0].attrs["shift"] = shift
    src = _check(g, tmp_path)
    assert "_dsp_wt[" in src  # the scalar tail is in the specialised kernel
    assert ("qc_smlabb" in src) == (c >= 4)
    assert ("_dsp_rq[" in src) != general  # the one-SMLAL table only when exact


@_SETTINGS
@given(seed=st.integers(0, 2**16), rows=st.integers(1, 3), k=st.integers(1, 70), n=st.integers(1, 13))
def test_fully_connected_bit_exact(tmp_path: Path, seed: int, rows: int, k: int, n: int) -> None:
    _check(_fc_graph(seed, rows, k, n), tmp_path)


def test_layers_under_sanitizers(tmp_path: Path) -> None:
    """Odd sizes (tails of pixels, channels and taps; borders) under ASan/UBSan.

    The instrumented library is loaded into a child Python with the ASan runtime preloaded
    (it must come first in the process)."""
    script = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
import test_dsp_kernels as t
tmp = Path({str(tmp_path)!r})
t._check(t._conv_graph(1, 7, 5, 3, 5, (3, 3), 2, 1, True), tmp / "a", sanitize=True)
t._check(t._conv_graph(2, 5, 5, 8, 7, (3, 3), 1, 1, False), tmp / "b", sanitize=True)
t._check(t._dw_graph(3, 6, 5, 12, (3, 3), 1, 1), tmp / "c", sanitize=True)
t._check(t._dw_graph(5, 6, 5, 7, (3, 3), 2, 1), tmp / "e", sanitize=True)
t._check(t._fc_graph(4, 3, 37, 11), tmp / "d", sanitize=True)
print("SANITIZED-OK")
"""
    run_under_asan(script)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["conv", "dw", "fc"]),
    hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    c=st.integers(1, 40),
    oc=st.integers(1, 40),
    k=st.sampled_from([(1, 1), (3, 3), (1, 3), (2, 2)]),
    stride=st.integers(1, 2),
)
def test_random_layers_sanitized_with_guarded_buffers(tmp_path: Path, seed, kind, hw, c, oc, k, stride) -> None:
    """Random DSP layers (channels 1..40, not multiples of 4 included) built with ASan +
    UBSan, inputs, outputs and arena (scratch) at the ends of guarded mappings, packed
    weights as globals with ASan redzones, against the reference (check_model_sanitized)."""
    h, w = max(hw[0], k[0]), max(hw[1], k[1])
    pad = (k[0] - 1) // 2
    if kind == "conv":
        g = _conv_graph(seed, h, w, c, oc, k, stride, pad, bool(seed & 1))
    elif kind == "dw":
        g = _dw_graph(seed, h, w, c, k, stride, pad)
    else:
        g = _fc_graph(seed, hw[0], c * hw[1], oc)
    tmp = tmp_path / f"{kind}{seed}"
    generate(g, tmp / "out", name=g.name, target=DSP)
    check_model_sanitized(tmp / "out", tmp, graph=g, samples=2, seed=seed)


def test_unsupported_layers_fall_back_to_portable(tmp_path: Path) -> None:
    g = _dw_graph(5, 5, 5, 6, (3, 3), 1, 1)
    g.nodes[0].attrs.update(dilations=(2, 2), pads=(2, 2, 2, 2))  # dilation 2: same 5x5 output
    report = generate(g, tmp_path / "out", name=g.name, target=DSP)
    assert not (tmp_path / "out" / f"{g.name}_kernels.c").exists()
    assert "qc_depthwise_conv2d_s8" in (tmp_path / "out" / "dspdw.c").read_text()
    assert report["layers"][0]["op"] == "depthwise_conv2d"


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_kernels_compile_for_cortex_m_with_dsp(tmp_path: Path) -> None:
    import subprocess

    g = _conv_graph(6, 6, 6, 8, 6, (3, 3), 1, 1, True)
    generate(g, tmp_path / "out", name=g.name, target=DSP)
    compile_c(tmp_path / "out", "arm-none-eabi-gcc", ("-mcpu=cortex-m7", "-mthumb"))
    out = tmp_path / "out"
    asm = subprocess.run(
        ["arm-none-eabi-gcc", "-std=c99", "-O2", "-mcpu=cortex-m7", "-mthumb", f"-I{out}", f"-I{out / 'runtime'}"]
        + ["-S", "-o", "-", str(out / "dspconv_kernels.c")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "smlad" in asm and "sxtb16" in asm  # real DSP instructions, not the emulation


# ---- MLPerf models -----------------------------------------------------------------------------


def _dsp_target_file(tmp: Path) -> Path:
    path = tmp / "dsp.toml"
    path.write_text('name = "dsp-host-test"\nkernel_family = "dsp"\ncc = "cc"\ncflags = ["-O2"]\n')
    return path


def test_resnet8_dsp_bit_exact_200(tmp_path: Path, resnet8_onnx: Path) -> None:
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.tools.verify import verify

    rng = np.random.default_rng(1)
    np.savez(tmp_path / "calib.npz", input_1=rng.uniform(0, 255, size=(50, 1, 3, 32, 32)).astype(np.float32))
    np.savez(tmp_path / "inputs.npz", input_1=rng.uniform(0, 255, size=(200, 3, 32, 32)).astype(np.float32))
    out = tmp_path / "out"
    options = CompileOptions(target=str(_dsp_target_file(tmp_path)), calib=tmp_path / "calib.npz", name="resnet8")
    options.progress = False
    compile_model(resnet8_onnx, out, options)
    assert (out / "resnet8_kernels.c").read_text().count("qc_smlad(") >= 9
    result = verify(out, data=tmp_path / "inputs.npz", float_model=False)
    assert result.samples == 200 and result.bit_exact == 200, result.mismatched_samples[:10]


def test_kws_dsp_bit_exact_200(tmp_path: Path, kws_onnx: Path, kws_data: Path) -> None:
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.tools.verify import verify

    with np.load(kws_data) as d:
        x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    x = x.reshape(-1, 1, 49, 10)
    np.savez(tmp_path / "calib.npz", input_1=x[:100])
    np.savez(tmp_path / "eval.npz", input_1=x[300:500])
    out = tmp_path / "out"
    options = CompileOptions(target=str(_dsp_target_file(tmp_path)), calib=tmp_path / "calib.npz", name="kws")
    options.progress = False
    compile_model(kws_onnx, out, options)
    assert (out / "kws_kernels.c").read_text().count("qc_smlabb(") >= 4  # the four depthwise layers
    result = verify(out, data=tmp_path / "eval.npz", float_model=False)
    assert result.samples == 200 and result.bit_exact == 200, result.mismatched_samples[:10]


def test_requant_fallback_when_one_smlal_is_not_exact(tmp_path: Path) -> None:
    """A zero shift (no rounding shift) on one channel: that layer keeps the general requantisation."""
    for g in (_conv_graph(7, 5, 5, 8, 6, (3, 3), 1, 1, True), _dw_graph(8, 5, 5, 8, (3, 3), 1, 1)):
        assert "_dsp_rq" in _check(g, tmp_path / "fast")  # the usual case takes the table path
        node = g.nodes[0]
        shift = np.array(node.attrs["shift"], dtype=np.int64).reshape(-1)
        shift[1] = 0
        node.attrs["shift"] = shift
        src = _check(g, tmp_path / "slow")
        assert "_dsp_rq" not in src and "_multiplier[c]" in src
