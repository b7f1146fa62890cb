"""DSP 16x8 kernels (codegen/families/dsp_s16.py): random 16x8 conv, depthwise and FC layers
generated for a dsp target, built on the host with the emulated intrinsics (plain and under
ASan/UBSan), bit-exact with the numpy reference (reference/s16.py), including extreme int16
inputs, int64 biases beyond int32 and layers that need the int64 accumulator path."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_graphs import DSP, _const, host_bit_exact, run_under_asan  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp_s16 import (  # noqa: E402
    eligible_s16,
    pack_conv_weights_s16,
    pack_depthwise_weights_s16,
    requant_s16_table,
)
from qcompile.ir import Graph, Node, QuantParams, Tensor  # noqa: E402
from qcompile.op_params import channel_multipliers  # noqa: E402
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier_int64, wrap_int32  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
_SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _act16(g: Graph, name: str, shape: tuple[int, ...], scale: float) -> str:
    g.add_tensor(Tensor(name, shape, "int16", quant=QuantParams(scale, 0, dtype="int16")))
    return name


def _params(rng, w_shape, oc: int, big_bias: bool, out_scale: float = 0.002) -> dict:
    w = rng.integers(-128, 128, size=w_shape, dtype=np.int8)
    mult, shift = channel_multipliers(0.001, rng.uniform(0.002, 0.02, size=oc), out_scale)
    hi = 2**40 if big_bias else 200_000
    return {"w": w, "bias": rng.integers(-hi, hi, size=oc, dtype=np.int64), "multiplier": mult, "shift": shift}


def _attrs(p: dict, act: tuple[int, int]) -> dict:
    return {
        "input_offset": 0,
        "output_offset": 0,
        "multiplier": p["multiplier"],
        "shift": p["shift"],
        "act_min": act[0],
        "act_max": act[1],
    }


def _out(n: int, k: int, s: int, pad: int) -> int:
    return (n + 2 * pad - k) // s + 1


def _conv_graph(seed: int, h: int, w: int, c: int, oc: int, k: tuple[int, int], s: int, pad: int, big: bool) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("conv16")
    x = _act16(g, "x", (1, h, w, c), 0.001)
    y = _act16(g, "y", (1, _out(h, k[0], s, pad), _out(w, k[1], s, pad), oc), 0.002)
    p = _params(rng, (oc, k[0], k[1], c), oc, big)
    attrs = _attrs(p, (-32768, 32767) if seed % 2 else (0, 30000))
    attrs.update(strides=(s, s), dilations=(1, 1), pads=(pad,) * 4, groups=1)
    g.add_node(Node("conv", "conv2d", [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _dw_graph(seed: int, h: int, w: int, c: int, k: tuple[int, int], s: int, pad: int, big: bool) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dw16")
    x = _act16(g, "x", (1, h, w, c), 0.001)
    y = _act16(g, "y", (1, _out(h, k[0], s, pad), _out(w, k[1], s, pad), c), 0.002)
    p = _params(rng, (k[0], k[1], c), c, big)
    attrs = _attrs(p, (-32768, 32767) if seed % 2 else (-1000, 32767))
    attrs.update(strides=(s, s), dilations=(1, 1), pads=(pad,) * 4, depth_multiplier=1)
    g.add_node(Node("dw", "depthwise_conv2d", [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _fc_graph(seed: int, rows: int, k: int, n: int, big: bool) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("fc16")
    x = _act16(g, "x", (rows, k), 0.001)
    y = _act16(g, "y", (rows, n), 0.01)
    p = _params(rng, (n, k), n, big, 0.01)
    g.add_node(
        Node(
            "fc",
            "fully_connected",
            [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])],
            [y],
            _attrs(p, (-32768, 32767)),
        )
    )
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _add_graph(seed: int, shape: tuple[int, ...], subtract: bool, act: tuple[int, int]) -> Graph:
    """TFLM's int16 ADD parameters (op_params.add_params) for random scales."""
    from qcompile.op_params import add_params

    rng = np.random.default_rng(seed)
    g = Graph("add16")
    s1, s2 = rng.uniform(1e-4, 1e-3, size=2)
    x1, x2 = _act16(g, "x1", shape, float(s1)), _act16(g, "x2", shape, float(s2))
    y = _act16(g, "y", shape, float(rng.uniform(1.0, 2.5)) * max(s1, s2))
    q = [g.tensors[t].quant for t in (x1, x2, y)]
    attrs = add_params(*q, act_min=act[0], act_max=act[1], subtract=subtract)
    g.add_node(Node("add", "add", [x1, x2], [y], attrs))
    g.inputs, g.outputs = [x1, x2], [y]
    g.validate()
    return g


def _check(g: Graph, tmp: Path, *, sanitize: bool = False, batch: int = 3) -> str:
    """Generate for the dsp family, build on the host, compare with the reference (random and
    extreme int16 inputs); returns the kernels source."""
    rng = np.random.default_rng(batch)
    xs = []
    for name in g.inputs:
        shape, info = g.tensors[name].shape, np.iinfo(g.tensors[name].dtype)
        x = rng.integers(info.min, info.max + 1, size=(batch, *shape), dtype=info.dtype)
        x[0] = info.min  # the largest products
        x[1] = rng.choice(np.array([info.min, info.max], dtype=info.dtype), size=shape)
        xs.append(x)
    return host_bit_exact(g, tmp, xs, target=DSP, sanitize=sanitize)


# ---- compile-time packing ------------------------------------------------------------------


def _sxtb16(word: int, ror: int) -> tuple[int, int]:
    v = ((word & 0xFFFFFFFF) >> ror) | ((word & 0xFFFFFFFF) << (32 - ror)) if ror else word & 0xFFFFFFFF
    b0, b2 = v & 0xFF, (v >> 16) & 0xFF
    return (b0 - 256 if b0 > 127 else b0, b2 - 256 if b2 > 127 else b2)


def test_pack_conv_weights_s16_sxtb16_pairs() -> None:
    w = np.arange(-12, 12, dtype=np.int64).reshape(3, 8)  # 3 channels (padded to 4), 2 quads
    words = pack_conv_weights_s16(w)
    assert words.size == 2 * 2 * 2  # channel pairs x quads x 2 channels
    # pair 0, quad 1, channel 1 is word 3: taps 4..7 of channel 1
    assert _sxtb16(int(words[3]), 0) == (w[1, 4], w[1, 5])
    assert _sxtb16(int(words[3]), 8) == (w[1, 6], w[1, 7])
    assert np.all(words[4:][1::2] == 0)  # channel 3 is padding


def test_pack_depthwise_weights_s16_lanes() -> None:
    w = np.arange(-8, 8, dtype=np.int64).reshape(1, 2, 8)  # 2 taps, 8 channels
    words = pack_depthwise_weights_s16(w) & 0xFFFFFFFF
    lo = ((words & 0xFFFF) ^ 0x8000) - 0x8000
    hi = (((words >> 16) & 0xFFFF) ^ 0x8000) - 0x8000
    # [quad][tap][(c, c+1), (c+2, c+3)]
    assert list(lo[:4]) == [w[0, 0, 0], w[0, 0, 2], w[0, 1, 0], w[0, 1, 2]]
    assert list(hi[4:6]) == [w[0, 0, 5], w[0, 0, 7]]


def test_requant_s16_table_matches_int64_mbqm() -> None:
    rng = np.random.default_rng(0)
    m = rng.integers(2**30, 2**31 - 1, size=50)
    m[0] = 0x7FFF0000
    m[1] = 2**31 - 1
    s = rng.integers(-31, 8, size=50)
    table = requant_s16_table(m, s, 50).reshape(-1, 2)
    acc = rng.integers(-(2**40), 2**40, size=50)
    got = wrap_int32((acc * table[:, 0] + (1 << (table[:, 1] - 1))) >> table[:, 1])  # the C's int32 truncation
    np.testing.assert_array_equal(got, multiply_by_quantized_multiplier_int64(acc, m, s))
    assert requant_s16_table(np.array([-1]), np.array([0]), 1) is None
    assert requant_s16_table(np.array([2**30]), np.array([8]), 1) is None


def test_layers_whose_sums_may_overflow_int32_stay_portable() -> None:
    g = _fc_graph(0, 1, 600, 4, False)
    g.tensors["w"].data[:] = -128  # 32768 * 128 * 600 >= 2^31
    assert not eligible_s16(g, g.nodes[0])
    g.tensors["w"].data[:] = 3
    assert eligible_s16(g, g.nodes[0])


# ---- bit-exact layers ----------------------------------------------------------------------


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    hw=st.sampled_from([(5, 5), (7, 4), (6, 9)]),
    c=st.sampled_from([1, 3, 4, 8]),
    oc=st.sampled_from([1, 3, 8]),
    k=st.sampled_from([(1, 1), (3, 3), (2, 3)]),
    s=st.sampled_from([1, 2]),
    pad=st.sampled_from([0, 1]),
    big=st.booleans(),
)
def test_conv_s16_bit_exact(tmp_path: Path, seed, hw, c, oc, k, s, pad, big) -> None:
    kernels = _check(_conv_graph(seed, hw[0], hw[1], c, oc, k, s, pad, big), tmp_path)
    assert "_dsp16(" in kernels


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    hw=st.sampled_from([(5, 5), (8, 3), (4, 7)]),
    c=st.sampled_from([1, 4, 6, 8, 13]),
    k=st.sampled_from([(3, 3), (1, 1), (4, 2)]),
    s=st.sampled_from([1, 2]),
    pad=st.sampled_from([0, 1]),
    big=st.booleans(),
)
def test_depthwise_s16_bit_exact(tmp_path: Path, seed, hw, c, k, s, pad, big) -> None:
    kernels = _check(_dw_graph(seed, hw[0], hw[1], c, k, s, pad, big), tmp_path)
    assert "_dsp16(" in kernels


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    rows=st.sampled_from([1, 2, 3]),
    k=st.sampled_from([5, 16, 64, 130]),
    n=st.sampled_from([1, 2, 7, 12]),
    big=st.booleans(),
)
def test_fully_connected_s16_bit_exact(tmp_path: Path, seed, rows, k, n, big) -> None:
    kernels = _check(_fc_graph(seed, rows, k, n, big), tmp_path)
    assert "_dsp16(" in kernels


def test_s16_layers_under_sanitizers(tmp_path: Path) -> None:
    """Odd sizes, borders, int64-bias and slow-requantisation layers under ASan/UBSan (a child
    Python with the ASan runtime preloaded)."""
    script = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
import test_dsp_s16_kernels as t
tmp = Path({str(tmp_path)!r})
t._check(t._conv_graph(1, 6, 5, 3, 5, (3, 3), 1, 1, False), tmp / "a", sanitize=True)
t._check(t._conv_graph(2, 4, 4, 8, 4, (1, 1), 1, 0, True), tmp / "b", sanitize=True)
t._check(t._dw_graph(3, 6, 6, 7, (3, 3), 2, 1, True), tmp / "c", sanitize=True)
t._check(t._dw_graph(4, 5, 5, 8, (3, 3), 1, 1, False), tmp / "d", sanitize=True)
t._check(t._fc_graph(5, 1, 37, 5, True), tmp / "e", sanitize=True)
t._check(t._add_graph(6, (1, 3, 5, 7), True, (-300, 20000)), tmp / "f", sanitize=True)
t._check(t._mean_graph(7, (2, 3, 3, 7)), tmp / "g", sanitize=True)
t._check(t._pool_graph(8, "max_pool2d", (1, 7, 6, 5), (3, 2), (2, 2), (1, 0, 1, 1)), tmp / "h", sanitize=True)
t._check(t._pool_graph(9, "avg_pool2d", (2, 5, 5, 4), (3, 3), (2, 2), (1, 1, 1, 1)), tmp / "i", sanitize=True)
t._check(t._mul_graph(10, (1, 4, 4, 7), (1, 1, 1, 7), (-32768, 32767)), tmp / "j", sanitize=True)
t._check(t._requant_graph(11, "int8", "int16", (1, 5, 7)), tmp / "k", sanitize=True)
t._check(t._requant_graph(12, "int16", "int8", (1, 5, 7)), tmp / "l", sanitize=True)
print("SANITIZED-OK")
"""
    run_under_asan(script)


def test_s16_kernels_compile_to_dsp_instructions(tmp_path: Path) -> None:
    import subprocess

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc")
    for g in (_conv_graph(6, 6, 6, 8, 6, (3, 3), 1, 1, False), _dw_graph(6, 6, 6, 8, (3, 3), 1, 1, False)):
        out = tmp_path / g.name
        generate(g, out, name=g.name, target=DSP)
        asm = subprocess.run(
            ["arm-none-eabi-gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-mcpu=cortex-m7", "-mthumb"]
            + [f"-I{out}", f"-I{out / 'runtime'}", "-S", "-o", "-", str(out / f"{g.name}_kernels.c")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert ("smlad" in asm and "sxtb16" in asm) if g.name == "conv16" else ("smlabb" in asm and "smlatt" in asm)
        assert "smlal" in asm  # qc_requantize_s16_x32


# ---- MLPerf models -----------------------------------------------------------------------------


def _kws_calib(tmp: Path, kws_data: Path) -> tuple[Path, Path]:
    with np.load(kws_data) as d:
        x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    x = x.reshape(-1, 1, 49, 10)
    np.savez(tmp / "calib.npz", input_1=x[:100])
    np.savez(tmp / "eval.npz", input_1=x[300:500])
    return tmp / "calib.npz", tmp / "eval.npz"


def test_kws_16x8_dsp_bit_exact_host_and_qemu(tmp_path: Path, kws_onnx: Path, kws_data: Path) -> None:
    """DS-CNN with --act-bits 16 on cortex-m7: every conv, depthwise and FC runs a DSP s16 kernel;
    200/200 bit-exact on the host (emulated intrinsics), 20/20 under QEMU (real DSP instructions)."""
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.targets import load_target
    from qcompile.tools.verify import verify

    calib, data = _kws_calib(tmp_path, kws_data)
    out = tmp_path / "out"
    compile_model(
        kws_onnx, out, CompileOptions(target="cortex-m7", calib=calib, name="kws", act_bits=16, progress=False)
    )
    src = (out / "kws_kernels.c").read_text()
    assert src.count("_dsp16(const int16_t") == 2 * 11  # 5 conv, 4 depthwise, mean, FC: declared and defined
    result = verify(out, data=data, float_model=False)
    assert result.samples == 200 and result.bit_exact == 200, result.mismatched_samples[:10]
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu

    qemu = verify_on_qemu(out, load_target("cortex-m7"), data=data, limit=20)
    assert qemu.result.bit_exact == qemu.result.samples == 20


def test_resnet8_16x8_dsp_bit_exact(tmp_path: Path, resnet8_onnx: Path) -> None:
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.tools.verify import verify

    rng = np.random.default_rng(1)
    np.savez(tmp_path / "calib.npz", input_1=rng.uniform(0, 255, size=(50, 1, 3, 32, 32)).astype(np.float32))
    np.savez(tmp_path / "inputs.npz", input_1=rng.uniform(0, 255, size=(100, 3, 32, 32)).astype(np.float32))
    out = tmp_path / "out"
    options = CompileOptions(target="cortex-m7", calib=tmp_path / "calib.npz", name="resnet8", act_bits=16)
    options.progress = False
    compile_model(resnet8_onnx, out, options)
    assert (out / "resnet8_kernels.c").read_text().count("_dsp16(const int16_t") >= 2 * 9
    result = verify(out, data=tmp_path / "inputs.npz", float_model=False)
    assert result.samples == 100 and result.bit_exact == 100, result.mismatched_samples[:10]


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    shape=st.sampled_from([(1, 4, 5, 3), (1, 1, 1, 1), (2, 17), (1, 8, 8, 16)]),
    subtract=st.booleans(),
    act=st.sampled_from([(-32768, 32767), (0, 32767), (-300, 20000)]),
)
def test_add_s16_bit_exact(tmp_path: Path, seed, shape, subtract, act) -> None:
    kernels = _check(_add_graph(seed, shape, subtract, act), tmp_path)
    assert "_dsp16(" in kernels


def test_add_s16_outside_the_fast_form_stays_portable() -> None:
    g = _add_graph(1, (1, 4, 4, 2), False, (-32768, 32767))
    assert eligible_s16(g, g.nodes[0])
    g.nodes[0].attrs["output_shift"] = -17  # a saturated result could then fall below 32767
    assert not eligible_s16(g, g.nodes[0])


def _mean_graph(seed: int, shape: tuple[int, int, int, int]) -> Graph:
    from qcompile.reference.reduce import mean_params

    rng = np.random.default_rng(seed)
    g = Graph("mean16")
    x = _act16(g, "x", shape, float(rng.uniform(1e-4, 1e-3)))
    y = _act16(g, "y", (shape[0], 1, 1, shape[3]), float(rng.uniform(1e-5, 1e-3)))
    attrs = mean_params(g.tensors[x].quant, g.tensors[y].quant, count=shape[1] * shape[2])
    attrs["keep_dims"] = True
    g.add_node(Node("mean", "mean", [x], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


@_SETTINGS
@given(seed=st.integers(0, 10_000), shape=st.sampled_from([(1, 25, 5, 64), (2, 3, 3, 7), (1, 1, 1, 1), (1, 8, 8, 5)]))
def test_mean_s16_bit_exact(tmp_path: Path, seed, shape) -> None:
    kernels = _check(_mean_graph(seed, shape), tmp_path)
    assert "_dsp16(" in kernels


def test_overlap_contracts_of_16x8_layers() -> None:
    """The DSP s16 conv im2cols a pixel pair before writing it (PIXELS), the depthwise writes four
    channels after their taps (CHANNEL); the portable s16 kernels write each channel as soon as it
    is summed, so a layer they run may not overlap its input at all."""
    from qcompile.codegen.families import get_family
    from qcompile.memory.overlap import CHANNEL, PIXELS

    conv, dw = _conv_graph(1, 5, 5, 4, 4, (3, 3), 1, 1, False), _dw_graph(1, 5, 5, 8, (3, 3), 1, 1, False)
    assert get_family("dsp").overlap_contracts(conv) == {"conv": PIXELS}
    assert get_family("dsp").overlap_contracts(dw) == {"dw": CHANNEL}
    assert get_family("portable").overlap_contracts(conv) == {}
    dw.nodes[0].attrs["shift"] = np.full(8, 9)  # outside [-31, 7]: no DSP s16 kernel
    assert get_family("dsp").overlap_contracts(dw) == {}


# ---- pools, MUL and QUANTIZE int8 <-> int16 -----------------------------------------------


def _pool_graph(seed: int, op: str, shape, kernel, strides, pads) -> Graph:
    """A 16x8 max / average pool (pads top, left, bottom, right); even seeds clamp to a ReLU-like range."""
    from qcompile.op_params import pool_layout

    g = Graph("pool16")
    x = _act16(g, "x", shape, 0.001)
    f = pool_layout(shape, kernel, strides, pads)
    y = _act16(g, "y", (shape[0], f["out_h"], f["out_w"], shape[3]), 0.001)
    act = (-32768, 32767) if seed % 2 else (-100, 20000)
    attrs = {"kernel": kernel, "strides": strides, "pads": pads, "act_min": act[0], "act_max": act[1]}
    g.add_node(Node("pool", op, [x], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _mul_graph(seed: int, shape1, shape2, act) -> Graph:
    from qcompile.op_params import mul_params

    rng = np.random.default_rng(seed)
    g = Graph("mul16")
    x1, x2 = _act16(g, "x1", shape1, float(rng.uniform(1e-4, 1e-3))), _act16(g, "x2", shape2, 1e-3)
    out_shape = np.broadcast_shapes(shape1, shape2)
    y = _act16(g, "y", out_shape, float(rng.uniform(1e-6, 1e-3)))
    attrs = mul_params(*(g.tensors[t].quant for t in (x1, x2, y)), act_min=act[0], act_max=act[1])
    g.add_node(Node("mul", "mul", [x1, x2], [y], attrs))
    g.inputs, g.outputs = [x1, x2], [y]
    g.validate()
    return g


def _requant_graph(seed: int, src: str, dst: str, shape) -> Graph:
    """TFLite QUANTIZE between int8 and int16 (random scales, an int8 side's zero point nonzero)."""
    from qcompile.quant.fixedpoint import quantize_multiplier

    rng = np.random.default_rng(seed)
    g = Graph("requant16")
    s_in, s_out = float(rng.uniform(1e-4, 1e-2)), float(rng.uniform(1e-4, 1e-2))
    zp = {"int8": int(rng.integers(-20, 20)), "int16": 0}
    g.add_tensor(Tensor("x", shape, src, quant=QuantParams(s_in, zp[src], dtype=src)))
    g.add_tensor(Tensor("y", shape, dst, quant=QuantParams(s_out, zp[dst], dtype=dst)))
    m, e = quantize_multiplier(s_in / s_out)
    attrs = {"input_offset": -zp[src], "output_offset": zp[dst], "multiplier": int(m), "shift": int(e)}
    attrs["output_bits"] = 8 if dst == "int8" else 16
    g.add_node(Node("rq", "requantize", ["x"], ["y"], attrs))
    g.inputs, g.outputs = ["x"], ["y"]
    g.validate()
    return g


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    op=st.sampled_from(["max_pool2d", "avg_pool2d"]),
    shape=st.sampled_from([(1, 8, 8, 4), (1, 7, 5, 3), (2, 6, 6, 1)]),
    kernel=st.sampled_from([(2, 2), (3, 3), (3, 2)]),
    strides=st.sampled_from([(1, 1), (2, 2), (2, 1)]),
    pads=st.sampled_from([(0, 0, 0, 0), (1, 1, 1, 1), (0, 1, 1, 0)]),
)
def test_pool_s16_bit_exact(tmp_path: Path, seed, op, shape, kernel, strides, pads) -> None:
    kernels = _check(_pool_graph(seed, op, shape, kernel, strides, pads), tmp_path)
    assert "_dsp16(" in kernels


def test_pool_s16_with_empty_windows_stays_portable() -> None:
    g = _pool_graph(1, "max_pool2d", (1, 4, 4, 2), (2, 2), (2, 2), (2, 0, 0, 0))  # first row of windows is padding
    from qcompile.codegen.families.dsp_s16 import _pool_fields

    assert _pool_fields(g, g.nodes[0]) is None
    ok = _pool_graph(1, "max_pool2d", (1, 4, 4, 2), (2, 2), (2, 2), (1, 0, 1, 0))
    assert _pool_fields(ok, ok.nodes[0])


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    shapes=st.sampled_from(
        [
            ((1, 4, 5, 6), (1, 4, 5, 6)),
            ((1, 4, 5, 6), (1, 1, 1, 6)),
            ((1, 1, 1, 6), (1, 3, 3, 6)),
            ((2, 9), (9,)),
            ((1, 3, 4, 5), (1, 1, 1, 1)),
        ]  # fmt: skip
    ),
    act=st.sampled_from([(-32768, 32767), (0, 32767), (-300, 20000)]),
)
def test_mul_s16_bit_exact(tmp_path: Path, seed, shapes, act) -> None:
    kernels = _check(_mul_graph(seed, *shapes, act), tmp_path)
    assert "_dsp16(" in kernels


def test_mul_s16_other_broadcasts_stay_portable(tmp_path: Path) -> None:
    g = _mul_graph(3, (1, 4, 5, 6), (1, 4, 1, 6), (-32768, 32767))  # broadcast over W only
    kernels = _check(g, tmp_path)
    assert "_dsp16(" not in kernels


@_SETTINGS
@given(
    seed=st.integers(0, 10_000),
    direction=st.sampled_from([("int8", "int16"), ("int16", "int8"), ("int16", "int16")]),
    shape=st.sampled_from([(1, 5, 7), (1, 1), (3, 64)]),
)
def test_requantize_s16_bit_exact(tmp_path: Path, seed, direction, shape) -> None:
    kernels = _check(_requant_graph(seed, *direction, shape), tmp_path)
    assert "_dsp16(" in kernels


@pytest.mark.parametrize(("m", "s", "off", "hi", "fast"), [
    (2**30, -16, 0, 32767, True), (2**30, -17, 0, 32767, False), (2**30, -22, 0, 127, True),
    (2**30, -23, 0, 127, False), (2**30, 1, 0, 127, False), (-(2**30), -3, 0, 127, False),
    (2**30, -24, 120, 127, False),
])  # fmt: skip
def test_requantize_fast_only_where_the_clamp_hides_saturation(m, s, off, hi, fast) -> None:
    from qcompile.codegen.families.dsp_s16 import requantize_fn

    assert (requantize_fn(m, s, off, hi) == "qc_requantize_fast") is fast


def test_digits_and_mbv3_16x8_dsp_on_qemu(tmp_path: Path) -> None:
    """The example models with --act-bits 16 on cortex-m7: the digits CNN's max and average pools
    and mbv3_se's squeeze-excite MULs and int8 <-> int16 QUANTIZEs run DSP s16 kernels,
    bit-exact with the reference on the host and under QEMU (real DSP instructions)."""
    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.targets import load_target
    from qcompile.tools.firmware.verify_qemu import verify_on_qemu
    from qcompile.tools.verify import verify

    examples = Path(__file__).resolve().parents[2] / "examples"
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mbv3_calib.npz", input=rng.uniform(-1, 1, size=(8, 1, 3, 48, 48)).astype(np.float32))
    np.savez(tmp_path / "mbv3_data.npz", input=rng.uniform(-1, 1, size=(4, 3, 48, 48)).astype(np.float32))
    np.savez(tmp_path / "digits_data.npz", input=np.load(examples / "digits" / "test.npz")["x"][:8])
    cases = {
        "digits": (examples / "digits" / "digits_cnn.onnx", examples / "digits" / "calib.npz", None, ("MAX_POOL_2D", "AVERAGE_POOL_2D")),
        "mbv3": (examples / "realworld" / "mbv3_se.onnx", tmp_path / "mbv3_calib.npz", ["input=1,3,48,48"], ("MUL", "QUANTIZE int8 -> int16", "QUANTIZE int16 -> int8")),
    }  # fmt: skip
    for name, (onnx, calib, shape, ops) in cases.items():
        out = tmp_path / name
        options = CompileOptions(target="cortex-m7", calib=calib, name=name, act_bits=16, progress=False)
        options.input_shape = shape
        compile_model(onnx, out, options)
        src = (out / f"{name}_kernels.c").read_text()
        assert all(f"TFLM's int16 {op}" in src or f"TFLM's {op}" in src for op in ops), name
        data = tmp_path / f"{name}_data.npz"
        host = verify(out, data=data, float_model=False)
        assert host.bit_exact == host.samples > 0, name
        qemu = verify_on_qemu(out, load_target("cortex-m7"), data=data, limit=4)
        assert qemu.result.bit_exact == qemu.result.samples == 4, name


@pytest.mark.parametrize("dst", ["int8", "int16"])
def test_requantize_from_int16_through_smlal_on_most_inputs(tmp_path: Path, dst: str) -> None:
    """qc_requantize_x2 (shift < 0) against the reference on 65536 random int16 values plus the extremes."""
    g = _requant_graph(0, "int16", dst, (1, 65536))
    g.nodes[0].attrs.update(multiplier=1_518_500_250, shift=-9, input_offset=32768 if dst == "int8" else 0)
    kernels = _check(g, tmp_path)
    assert "qc_requantize_x2(2 * a, 1518500250, 256, 9)" in kernels
