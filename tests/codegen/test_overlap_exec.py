"""Overlapped execution (qcompile.memory.overlap) runs the same kernels on overlapping buffers:
random conv/depthwise chains generated with a --ram-budget that needs the overlapped plan, for
the DSP family (built on the host with the emulated intrinsics) and the portable kernels,
under ASan + UBSan with guarded buffers, must give the reference's bytes (the reference is
what the layer-by-layer build gives)."""

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

from codegen_graphs import DSP, _act, _const, _weighted  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.ir import Graph, Node  # noqa: E402
from qcompile.targets import Target  # noqa: E402

PORTABLE = Target(name="portable-host-test", kernel_family="portable", cc="cc", cflags=("-O2",))
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def _layer(g: Graph, rng: np.random.Generator, i: int, x: str, kind: str, oc: int, stride: int) -> str:
    _, h, w, c = g.tensors[x].shape
    k = 1 if kind == "pw" else 3
    pad = k // 2
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out_c = c if kind == "dw" else oc
    shape = (k, k, c) if kind == "dw" else (oc, k, k, c)
    p = _weighted(rng, float(g.tensors[x].quant.scale), 0.1, shape, out_c)
    y = _act(g, f"t{i}", (1, oh, ow, out_c), 0.1, int(rng.integers(-20, 20)))
    attrs = {
        "strides": (stride, stride),
        "dilations": (1, 1),
        "pads": (pad, pad, pad, pad),
        "input_offset": -int(g.tensors[x].quant.zero_point),
        "output_offset": int(g.tensors[y].quant.zero_point),
        "multiplier": p["multiplier"],
        "shift": p["shift"],
        "act_min": int(g.tensors[y].quant.zero_point),
        "act_max": 127,
    }
    if kind == "dw":
        attrs["depth_multiplier"] = 1
        op = "depthwise_conv2d"
    else:
        attrs["groups"] = 1
        op = "conv2d"
    ins = [x, _const(g, f"w{i}", p["w"]), _const(g, f"b{i}", p["bias"])]
    g.add_node(Node(f"n{i}", op, ins, [y], attrs))
    return y


def chain(seed: int, h: int, w: int, c: int, kinds: list[tuple[str, int, int]]) -> Graph:
    """x (1, h, w, c) through the layers ``(kind, out channels, stride)``, kind dw/pw/conv."""
    rng = np.random.default_rng(seed)
    g = Graph(f"chain{seed}")
    t = _act(g, "x", (1, h, w, c), 0.05, int(rng.integers(-128, 128)))
    for i, (kind, oc, stride) in enumerate(kinds):
        t = _layer(g, rng, i, t, kind, oc, stride)
    g.inputs, g.outputs = ["x"], [t]
    g.validate()
    return g


def check_overlapped(g: Graph, tmp: Path, target: Target, io_in_arena: bool) -> dict:
    """Generate with the smallest budget the overlapped plan meets; run it sanitized."""
    report = generate(g, tmp / "plain", name=g.name, target=target, io_in_arena=io_in_arena)
    size = report["below_bound"]["available_arena_bytes"]
    if size is None:
        return report
    assert size < report["arena_bytes"]
    out = tmp / "overlapped"
    report = generate(g, out, name=g.name, target=target, io_in_arena=io_in_arena, ram_budget=size)
    # with a budget the portable family may also fit it with row bands, without overlaps
    assert report["arena_bytes"] <= size and (report["below_bound"]["used"] or report["layers"])
    check_model_sanitized(out, tmp, graph=g, samples=2, seed=len(g.nodes))
    return report


_KIND = st.tuples(st.sampled_from(["dw", "pw", "conv"]), st.integers(1, 20), st.integers(1, 2))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    c=st.integers(1, 20),
    kinds=st.lists(_KIND, min_size=2, max_size=5),
    dsp=st.booleans(),
    io=st.booleans(),
)
def test_random_chains_bit_exact_sanitized(tmp_path: Path, seed, hw, c, kinds, dsp, io) -> None:
    g = chain(seed, hw[0], hw[1], c, kinds)
    check_overlapped(g, tmp_path / f"c{seed}", DSP if dsp else PORTABLE, io)


@pytest.mark.parametrize("target", [DSP, PORTABLE], ids=["dsp", "portable"])
def test_dscnn_shaped_chain(tmp_path: Path, target: Target) -> None:
    """25x5x64 depthwise/pointwise pairs: one tensor plus a row and a pixel per depthwise."""
    g = chain(7, 25, 5, 64, [("dw", 64, 1), ("pw", 64, 1), ("dw", 64, 1), ("pw", 64, 1)])
    report = check_overlapped(g, tmp_path, target, io_in_arena=True)
    assert report["below_bound"]["used"]
    assert report["arena_bytes"] <= 8000 + 2 * 384 + 832 + 2 * 32  # + the pointwise scratch
