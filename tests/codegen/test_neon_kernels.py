"""NEON kernel family: random single layers (conv general / 1x1 / first layer / strided,
conv2d_add, fully connected; channel counts off the 4/16 grid; weights holding -128;
saturating scales) generated for the Cortex-A targets, cross-built and run under
qemu-aarch64 on both CPU models (SDOT and SMULL/SADALP paths), bit-exact with the numpy
reference; the host build (scalar fallback of the same kernels) too. The vectorised
requantisation is checked against quant/fixedpoint.py on edge values. Under sanitizers: graphs
of several random layers (wider shape space: asymmetric pads, odd sizes, larger kernels)
cross-built with trapping UBSan (static) and with ASan + UBSan (libasan8-arm64-cross, dynamic),
and layers whose in-place reads end at the input's last byte under ASan.

QC_NEON_EXAMPLES raises the number of hypothesis examples (default small for CI); QC_SLOW=1
runs 20 sanitized graphs per kind instead of one."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qcompile.codegen import generate
from qcompile.codegen.families.neon import _render, pack_dot, pack_rows
from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.op_params import add_params
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from qcompile.reference.executor import run_quantized
from qcompile.resources import runtime_dir
from qcompile.targets import Target, load_target
from qcompile.tools.firmware import run_on_qemu

pytestmark = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
    reason="aarch64-linux-gnu-gcc / qemu-aarch64 not installed (scripts/setup.sh installs them)",
)
CPUS = ("cortex-a53", "cortex-a76")  # SMULL/SADALP and SDOT
HOST_NEON = Target(name="neon-host-test", kernel_family="neon", cc="cc", cflags=("-O2",))
_SETTINGS = settings(
    max_examples=int(os.environ.get("QC_NEON_EXAMPLES", "2")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _tensor(g: Graph, name: str, shape: tuple[int, ...], rng: np.random.Generator) -> str:
    g.add_tensor(
        Tensor(name, shape, "int8", quant=QuantParams(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128))))
    )
    return name


def _const(g: Graph, name: str, data: np.ndarray) -> str:
    g.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), np.ascontiguousarray(data)))
    return name


def _layer(draw: st.DrawFn, op: str) -> Graph:
    """One random layer: shapes, pads, strides, offsets and (possibly saturating) scales from ``draw``."""
    g = Graph(f"neon_{op}")
    _add_layer(draw, g, op, "")
    g.validate()
    return g


def _window(draw: st.DrawFn, wide: bool) -> tuple[tuple[int, int], int, tuple[int, int, int, int], int, int]:
    """(kernel, stride, pads top/left/bottom/right, input height, input width) of a random conv window;
    ``wide``: larger kernels, asymmetric pads up to kernel - 1, odd sizes up to 11."""
    kernels = [(1, 1), (1, 1), (3, 3), (3, 1), (2, 3)] + ([(5, 5), (1, 4), (4, 2)] if wide else [])
    k = draw(st.sampled_from(kernels))
    s = draw(st.integers(1, 2))
    if wide:
        pads = tuple(draw(st.integers(0, k[i % 2] - 1)) for i in range(4))
    else:
        pad = draw(st.integers(0, 1)) if k != (1, 1) else 0
        pads = (pad,) * 4
    top = 11 if wide else 7
    h = draw(st.integers(max(1, k[0] - pads[0] - pads[2]), top))
    w = draw(st.integers(max(1, k[1] - pads[1] - pads[3]), top))
    return k, s, pads, h, w  # type: ignore[return-value]


def _add_layer(
    draw: st.DrawFn, g: Graph, op: str, tag: str, wide: bool = False, shape: tuple[Any, ...] | None = None
) -> None:
    """Add one random ``op`` layer reading its own graph inputs and writing its own graph output
    (tensor names prefixed with ``tag``), so every buffer it touches is the caller's, not the arena.
    ``shape`` fixes the geometry instead of drawing it: ``(C, OC, rows, K)`` for fully_connected,
    ``(C, OC, kernel, stride, pads, H, W)`` otherwise."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if shape is None:
        chans = [1, 3, 5, 16, 19, 32, 40] + ([2, 7, 9, 13, 24, 31, 33, 47] if wide else [])
        c = draw(st.sampled_from(chans))
        ocs = [1, 3, 4, 6, 16, 17, 33] + ([9, 23] if wide else [])
        oc = c if op == "depthwise_conv2d" else draw(st.sampled_from(ocs))
        if op == "fully_connected":
            shape = (c, oc, draw(st.integers(1, 3)), c * draw(st.integers(1, 3)))
        else:
            shape = (c, oc, *_window(draw, wide))
    c, oc = shape[0], shape[1]
    if op == "fully_connected":
        rows = shape[2]
        x = _tensor(g, f"{tag}x", (rows, shape[3]), rng)
        w_shape = (oc, shape[3])
        y_shape: tuple[int, ...] = (rows, oc)
        attrs: dict[str, Any] = {}
    else:
        k, s, pads, h, w = shape[2:]
        oh, ow = (h + pads[0] + pads[2] - k[0]) // s + 1, (w + pads[1] + pads[3] - k[1]) // s + 1
        x = _tensor(g, f"{tag}x", (1, h, w, c), rng)
        w_shape, y_shape = (oc, *k, c), (1, oh, ow, oc)
        attrs = {"strides": (s, s), "dilations": (1, 1), "pads": pads, "groups": 1}
        if op == "depthwise_conv2d":
            w_shape, y_shape = (*k, c), (1, oh, ow, c)
            attrs = {"strides": (s, s), "dilations": (1, 1), "pads": pads, "depth_multiplier": 1}
    wts = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    if draw(st.booleans()):
        wts.reshape(-1)[rng.integers(0, wts.size, size=3)] = -128  # two products of -128 overflow int16
    scale = 10 ** float(draw(st.floats(-5.5, -1.5)))  # from tiny to saturating
    ms = [quantize_multiplier(float(v)) for v in rng.uniform(0.5, 2.0, size=oc) * scale]
    y = _tensor(g, f"{tag}y", y_shape, rng)
    lo = draw(st.integers(-128, 0))
    attrs.update(
        input_offset=-int(g.tensors[x].quant.zero_point),
        output_offset=int(g.tensors[y].quant.zero_point),
        multiplier=np.array([m for m, _ in ms], dtype=np.int32),
        shift=np.array([s for _, s in ms], dtype=np.int32),
        act_min=lo,
        act_max=draw(st.integers(lo, 127)),
    )
    bias = rng.integers(-30000, 30000, size=oc).astype(np.int32)
    inputs = [x, _const(g, f"{tag}w", wts), _const(g, f"{tag}b", bias)]
    g.inputs.append(x)
    if op == "conv2d_add":
        r = _tensor(g, f"{tag}r", y_shape, rng)
        q = [
            QuantParams(float(v), int(z))
            for v, z in zip(rng.uniform(0.01, 0.2, 3), rng.integers(-128, 128, 3), strict=True)
        ]
        a_lo = draw(st.integers(-128, 0))
        add = add_params(
            q[0], q[1], q[2], act_min=a_lo, act_max=draw(st.integers(a_lo, 127)), subtract=draw(st.booleans())
        )
        attrs.update({f"add_{k}": v for k, v in add.items()})
        attrs["add_conv_operand"] = draw(st.sampled_from([1, 2]))
        inputs.append(r)
        g.inputs.append(r)
    g.add_node(Node(f"{tag}layer", op, inputs, [y], attrs))
    g.outputs.append(y)


def _check_on_qemu(g: Graph, tmp: Path, samples: int = 3, *, emulated_sdot: bool = False) -> str:
    """Generate for each Cortex-A CPU model, run under qemu-aarch64, compare with the reference;
    ``emulated_sdot``: also run the cortex-a76 code built for the A53 (SDOT by element emulated)."""
    rng = np.random.default_rng(7)
    xs = [rng.integers(-128, 128, size=(samples, *g.tensors[n].shape), dtype=np.int8) for n in g.inputs]
    expected = [run_quantized(g, [x[i] for x in xs])[g.outputs[0]].reshape(-1) for i in range(samples)]
    kernels = ""
    for cpu in CPUS:
        out = tmp / cpu
        shutil.rmtree(out, ignore_errors=True)
        generate(g, out, name=g.name, target=load_target(cpu))
        kernels = (out / f"{g.name}_kernels.c").read_text()
        run = run_on_qemu(out, cpu, xs, build_dir=tmp / f"b-{cpu}")
        for i in range(samples):
            np.testing.assert_array_equal(run.outputs[0][i], expected[i], err_msg=f"{cpu} sample {i}")
    if emulated_sdot:  # the dot-product layout built without +dotprod, on the A53 model
        run = run_on_qemu(tmp / "cortex-a76", "cortex-a53", xs, build_dir=tmp / "b-a76-on-a53")
        np.testing.assert_array_equal(run.outputs[0], np.stack(expected), err_msg="cortex-a76 code on cortex-a53")
    return kernels


def _check_on_host(g: Graph, tmp: Path, samples: int = 3) -> None:
    """The scalar fallback of the same kernels (host build without NEON) against the reference."""
    from qcompile.host._runtime import ModelLibrary
    from qcompile.host.build import build_host_library

    out = tmp / "host"
    shutil.rmtree(out, ignore_errors=True)
    report = generate(g, out, name=g.name, target=HOST_NEON)
    lib = build_host_library(out, name=report["c_name"], build_dir=tmp / "b-host")
    sizes = [g.tensors[n].size for n in g.inputs], [g.tensors[n].size for n in g.outputs]
    model = ModelLibrary(str(lib), report["c_name"], *sizes, 0)
    rng = np.random.default_rng(11)
    xs = [rng.integers(-128, 128, size=(samples, *g.tensors[n].shape), dtype=np.int8) for n in g.inputs]
    outs = model.run(xs)
    for i in range(samples):
        ref = run_quantized(g, [x[i] for x in xs])[g.outputs[0]].reshape(-1)
        np.testing.assert_array_equal(outs[0][i], ref, err_msg=f"host sample {i}")


@st.composite
def _conv(draw: st.DrawFn) -> Graph:
    return _layer(draw, "conv2d")


@st.composite
def _conv_add(draw: st.DrawFn) -> Graph:
    return _layer(draw, "conv2d_add")


@st.composite
def _fc(draw: st.DrawFn) -> Graph:
    return _layer(draw, "fully_connected")


@_SETTINGS
@given(g=_conv())
def test_conv_bit_exact_on_qemu(tmp_path: Path, g: Graph) -> None:
    assert "_neon(" in _check_on_qemu(g, tmp_path)


@_SETTINGS
@given(g=_conv_add())
def test_conv_add_bit_exact_on_qemu(tmp_path: Path, g: Graph) -> None:
    _check_on_qemu(g, tmp_path)


@st.composite
def _depthwise(draw: st.DrawFn) -> Graph:
    return _layer(draw, "depthwise_conv2d")


@_SETTINGS
@given(g=_depthwise())
def test_depthwise_bit_exact_on_qemu(tmp_path: Path, g: Graph) -> None:
    assert "_neon(" in _check_on_qemu(g, tmp_path)
    _check_on_host(g, tmp_path)


@_SETTINGS
@given(g=_fc())
def test_fully_connected_bit_exact_on_qemu(tmp_path: Path, g: Graph) -> None:
    _check_on_qemu(g, tmp_path)


# ---- sanitizers: the NEON code itself, cross-built with ASan/UBSan and run under qemu-aarch64 ----

UBSAN_TRAP = ("-fsanitize=undefined", "-fsanitize-undefined-trap-on-error")  # no runtime: a trap stops the run
ASAN_UBSAN = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
_OPS = ("conv2d", "conv2d_add", "depthwise_conv2d", "fully_connected")
_SLOW = bool(os.environ.get("QC_SLOW"))


def _sanitizer_flags(kind: str, tmp: Path) -> tuple[str, ...]:
    """The cross compiler flags of ``kind``; skips when the AArch64 ASan runtime is missing
    (Debian: libasan8-arm64-cross, which scripts/setup.sh installs)."""
    if kind == "ubsan-trap":
        return UBSAN_TRAP
    probe = tmp / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    cmd = ["aarch64-linux-gnu-gcc", *ASAN_UBSAN, str(probe), "-o", str(tmp / "probe")]
    if subprocess.run(cmd, capture_output=True).returncode:
        pytest.skip("aarch64-linux-gnu-gcc lacks the ASan/UBSan runtime (libasan8-arm64-cross)")
    return ASAN_UBSAN


@st.composite
def _layers(draw: st.DrawFn) -> Graph:
    """Several independent random layers (every NEON-specialised op, wide shape space) in one graph:
    each reads graph inputs and writes a graph output, the buffers the sanitizers watch."""
    g = Graph("neon_san")
    ops = list(_OPS) + draw(st.lists(st.sampled_from(_OPS), min_size=0, max_size=3))
    for i, op in enumerate(ops):
        _add_layer(draw, g, op, f"l{i}_", wide=True)
    g.validate()
    return g


def _check_sanitized(g: Graph, tmp: Path, flags: tuple[str, ...]) -> None:
    """Generate ``g`` for each Cortex-A CPU model, cross-build it with ``flags`` and compare the
    outputs under qemu-aarch64 with the reference (a sanitizer report stops the run: QCompileError)."""
    rng = np.random.default_rng(3)
    xs = [rng.integers(-128, 128, size=(2, *g.tensors[n].shape), dtype=np.int8) for n in g.inputs]
    expected = [run_quantized(g, [x[i] for x in xs]) for i in range(2)]
    for cpu in CPUS:
        out = tmp / cpu
        target = load_target(cpu)
        generate(g, out, name=g.name, target=target)
        assert "_neon(" in (out / f"{g.name}_kernels.c").read_text()
        sanitized = dataclasses.replace(target, cflags=(*target.cflags, *flags))
        run = run_on_qemu(out, sanitized, xs, build_dir=tmp / f"b-{cpu}", timeout=600)
        for j, name in enumerate(g.outputs):
            for i in range(2):
                np.testing.assert_array_equal(
                    run.outputs[j][i], expected[i][name].reshape(-1), err_msg=f"{cpu} {name} sample {i}"
                )


@pytest.mark.parametrize("kind", ["ubsan-trap", "asan"])
@settings(
    max_examples=20 if _SLOW else 1,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each example is two cross builds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(g=_layers())
def test_layers_under_sanitizers_on_qemu(tmp_path: Path, kind: str, g: Graph) -> None:
    """Random conv / conv2d_add / depthwise / FC layers (channel counts off the 4/8/16 grid, odd
    sizes, strides 1-2, asymmetric pads) cross-built with UBSan (trapping, static) or ASan + UBSan
    (dynamic, libasan under qemu-aarch64 -L /usr/aarch64-linux-gnu), bit-exact on both CPU models:
    a read past an input's end (the in-place tap reads) or a tail bug fails. QC_SLOW=1: 20 graphs."""
    for cpu in CPUS:  # hypothesis reuses tmp_path across examples
        shutil.rmtree(tmp_path / cpu, ignore_errors=True)
    _check_sanitized(g, tmp_path, _sanitizer_flags(kind, tmp_path))


# Layers whose last pixels' in-place reads (whole q registers: 16 bytes from each kernel row) would
# pass the end of the input without the guard: C = 3 or 5 with unpadded windows ending at the last
# input byte, an FC of K = 7 and 21.
_EDGE_LAYERS = (
    ("conv2d", (3, 5, (1, 1), 1, (0, 0, 0, 0), 3, 5)),
    ("conv2d", (3, 17, (3, 3), 1, (0, 0, 0, 0), 4, 6)),
    ("conv2d_add", (5, 6, (1, 5), 2, (0, 0, 0, 0), 3, 9)),
    ("conv2d", (3, 4, (2, 3), 1, (0, 1, 1, 0), 5, 5)),
    ("fully_connected", (7, 9, 3, 7)),
    ("fully_connected", (21, 3, 2, 21)),
)


@st.composite
def _edge_layers(draw: st.DrawFn) -> Graph:
    g = Graph("neon_edge")
    for i, (op, shape) in enumerate(_EDGE_LAYERS):
        _add_layer(draw, g, op, f"e{i}_", shape=shape)
    g.validate()
    return g


@settings(
    max_examples=1,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(g=_edge_layers())
def test_in_place_reads_stop_at_the_input_end_under_asan(tmp_path: Path, g: Graph) -> None:
    """ASan (inputs are the harness's own arrays, with redzones) on layers whose last pixels sit at
    the input's end: an in-place read past it is reported, so those pixels must be gathered."""
    _check_sanitized(g, tmp_path, _sanitizer_flags("asan", tmp_path))


@pytest.mark.parametrize(
    ("c", "k", "s", "pad"),
    [(3, (3, 3), 1, 1), (16, (1, 1), 1, 0), (32, (1, 1), 2, 0), (19, (3, 3), 2, 1)],
    ids=["first-layer", "1x1-direct", "1x1-strided", "3x3-strided-tail"],
)
def test_named_conv_shapes_on_qemu(tmp_path: Path, c: int, k: tuple[int, int], s: int, pad: int) -> None:
    """The shapes the brief names, each once with fixed parameters (the random tests may miss one)."""
    rng = np.random.default_rng(c)
    g = Graph("neon_named")
    x = _tensor(g, "x", (1, 9, 8, c), rng)
    oh, ow = (9 + 2 * pad - k[0]) // s + 1, (8 + 2 * pad - k[1]) // s + 1
    y = _tensor(g, "y", (1, oh, ow, 21), rng)
    ms = [quantize_multiplier(float(v)) for v in rng.uniform(1e-4, 3e-4, size=21)]
    attrs = {"strides": (s, s), "dilations": (1, 1), "pads": (pad,) * 4, "groups": 1,
             "input_offset": -int(g.tensors[x].quant.zero_point), "output_offset": int(g.tensors[y].quant.zero_point),
             "multiplier": np.array([m for m, _ in ms], dtype=np.int32),
             "shift": np.array([v for _, v in ms], dtype=np.int32), "act_min": -128, "act_max": 127}  # fmt: skip
    w = _const(g, "w", rng.integers(-127, 128, size=(21, *k, c), dtype=np.int8))
    g.add_node(
        Node("layer", "conv2d", [x, w, _const(g, "b", rng.integers(-900, 900, 21).astype(np.int32))], [y], attrs)
    )
    g.inputs, g.outputs = [x], [y]
    g.validate()
    kernels = _check_on_qemu(g, tmp_path, emulated_sdot=True)
    _check_on_host(g, tmp_path)
    assert ("_gather(" in kernels or "_fill(" in kernels) == (pad > 0)  # unpadded windows are all read in place


@pytest.mark.parametrize(("h", "w", "c"), [(17, 17, 21), (5, 5, 64), (1, 3, 7)])
def test_global_avg_pool_on_qemu(tmp_path: Path, h: int, w: int, c: int) -> None:
    """Sums over more than 256 pixels (the int16 stage is flushed), a channel tail, a tiny pool."""
    rng = np.random.default_rng(h * c)
    g = Graph("neon_pool")
    x, y = _tensor(g, "x", (1, h, w, c), rng), _tensor(g, "y", (1, 1, 1, c), rng)
    attrs = {"kernel": (h, w), "strides": (1, 1), "pads": (0, 0, 0, 0), "act_min": -100, "act_max": 120}
    g.add_node(Node("pool", "avg_pool2d", [x], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    assert "_neon(" in _check_on_qemu(g, tmp_path)
    _check_on_host(g, tmp_path)


@pytest.mark.parametrize(
    ("h", "w", "c", "scales"), [(17, 17, 21, (0.1, 0.02)), (5, 5, 64, (0.05, 0.2)), (1, 3, 7, (0.1, 0.1))]
)
def test_global_mean_on_qemu(tmp_path: Path, h: int, w: int, c: int, scales: tuple[float, float]) -> None:
    """TFLite MEAN over H and W (a global pool with its own output scale): the NEON sums, then the
    requantisation with the division folded in (narrowing and widening scales)."""
    from qcompile.reference.reduce import mean_params

    rng = np.random.default_rng(h * c + 1)
    g = Graph("neon_mean")
    x = _tensor(g, "x", (1, h, w, c), rng)
    g.add_tensor(Tensor("y", (1, 1, 1, c), "int8", quant=QuantParams(scales[1], int(rng.integers(-128, 128)))))
    g.tensors[x].quant = QuantParams(scales[0], int(rng.integers(-128, 128)))
    attrs = {**mean_params(g.tensors[x].quant, g.tensors["y"].quant, count=h * w), "keep_dims": 1}
    g.add_node(Node("mean", "mean", [x], ["y"], attrs))
    g.inputs, g.outputs = [x], ["y"]
    g.validate()
    assert "_neon(" in _check_on_qemu(g, tmp_path)
    _check_on_host(g, tmp_path)


def test_pack_rows_pads_channels_and_taps() -> None:
    w = np.arange(3 * 5).reshape(3, 5) - 7
    p = pack_rows(w, 4)
    assert p.shape == (4, 16) and np.array_equal(p[:3, :5], w) and not p[3].any() and not p[:, 5:].any()


def test_family_follows_the_targets_dot_product_flag() -> None:
    assert not load_target("cortex-a53").family.dotprod
    assert load_target("cortex-a55").family.dotprod and load_target("cortex-a76").family.dotprod
    assert load_target("host").family.for_target(("-march=armv8.2-a+dotprod",)) is load_target("host").family


def test_pack_dot_layout() -> None:
    w = np.arange(17 * 20).reshape(17, 20) % 251 - 125  # OC 17 -> 32, K 20 -> 32
    p = pack_dot(w, 32).reshape(2, 8, 16, 4)  # [channel block][tap quad][channel][tap]
    assert p[0, 1, 3, 2] == w[3, 6] and p[1, 4, 0, 3] == w[16, 19]
    assert not p[1, :, 1:].any() and not p[:, 5:].any()


# ---- requantisation ------------------------------------------------------------------------

_REQUANT_MAIN = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    FILE *o = fopen(argv[2], "wb");
    int32_t v[12];
    (void)argc;
    while (fread(v, sizeof(int32_t), 12, f) == 12) {
        int32x4_t x = vld1q_s32(v), m = vld1q_s32(v + 4), s = vld1q_s32(v + 8);
        int32x4_t r = t_neon_mbqm(x, m, vmaxq_s32(s, vdupq_n_s32(0)), vminq_s32(s, vdupq_n_s32(0)));
        /* the short form, for right shifts only: on lanes with s < 0 it must agree */
        int32x4_t q = t_neon_mbqm_r(x, m, vminq_s32(s, vdupq_n_s32(-1)));
        int32_t out[8];
        vst1q_s32(out, r);
        vst1q_s32(out + 4, q);
        fwrite(out, sizeof(int32_t), 8, o);
    }
    fclose(f);
    return fclose(o);
}
"""


def _requant_cases(n_random: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    imin, imax = -(2**31), 2**31 - 1
    xs = [imin, imin + 1, -(2**30), -3, -2, -1, 0, 1, 2, 3, 2**30, imax - 1, imax]
    ms = [imin, imin + 1, -1, 0, 1, 2**30, 2**30 + 1, imax - 1, imax]
    x, m, s = np.meshgrid(np.array(xs), np.array(ms), np.arange(-31, 31), indexing="ij")
    rng = np.random.default_rng(0)
    e = rng.integers(1, 32, size=n_random)
    # exact ties of the rounding right shift: SRDHM(x << 1, 2^30) == x, then x = k 2^e +- 2^(e-1)
    ties = rng.integers(-(2**20), 2**20, size=n_random) * (1 << e) + (1 << (e - 1)) * rng.choice([-1, 1], n_random)
    ties = np.clip(ties, -(2**30), 2**30 - 1)
    xr = np.concatenate([x.reshape(-1), rng.integers(imin, imax, size=n_random, endpoint=True), ties])
    mr = np.concatenate(
        [m.reshape(-1), rng.integers(imin, imax, size=n_random, endpoint=True), np.full(n_random, 2**30)]
    )
    sr = np.concatenate([s.reshape(-1), rng.integers(-31, 31, size=n_random), 1 - e])
    pad = -len(xr) % 4
    return tuple(np.concatenate([a, np.zeros(pad, dtype=np.int64)]) for a in (xr, mr, sr))  # type: ignore[return-value]


def test_vector_requantisation_matches_fixedpoint(tmp_path: Path) -> None:
    (tmp_path / "t_weights.h").write_text("/* no weights */\n")
    src = _render("kernels.c.j2", cname="t", model_comment="requant test", kernels=[]) + _REQUANT_MAIN
    (tmp_path / "t.c").write_text(src)
    x, m, s = _requant_cases(20000)
    blocks = np.stack([x.reshape(-1, 4), m.reshape(-1, 4), s.reshape(-1, 4)], axis=1).astype("<i4")
    (tmp_path / "in.bin").write_bytes(blocks.tobytes())
    expected = multiply_by_quantized_multiplier(x, m, s)
    for cpu in CPUS:
        flags = ["-march=armv8.2-a+dotprod"] if cpu == "cortex-a76" else ["-march=armv8-a"]
        exe = tmp_path / f"t-{cpu}"
        cmd = ["aarch64-linux-gnu-gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-static", *flags]
        subprocess.run([*cmd, f"-I{tmp_path}", f"-I{runtime_dir() / 'include'}", "t.c", "-o", exe.name],
                       cwd=tmp_path, check=True)  # fmt: skip
        subprocess.run(["qemu-aarch64", "-cpu", cpu, str(exe), "in.bin", "out.bin"], cwd=tmp_path, check=True)
        both = np.frombuffer((tmp_path / "out.bin").read_bytes(), dtype="<i4").astype(np.int64).reshape(-1, 2, 4)
        got, short = both[:, 0].reshape(-1), both[:, 1].reshape(-1)
        right = s < 0
        bad_short = np.nonzero(right & (short != expected))[0]
        assert not len(bad_short), f"{cpu} mbqm_r: x={x[bad_short[:5]]} m={m[bad_short[:5]]} s={s[bad_short[:5]]}"
        bad = np.nonzero(got != expected)[0]
        assert not len(bad), (
            f"{cpu}: x={x[bad[:5]]} m={m[bad[:5]]} s={s[bad[:5]]} got {got[bad[:5]]} want {expected[bad[:5]]}"
        )
