"""DSP family transposed convolution (codegen/families/dsp_tconv.py): random int8 layers
(strides 1-3, filters up to 4x4, pads, ONNX output padding, odd channel counts) generated for
a dsp target, built on the host with the emulated intrinsics (plain and under ASan/UBSan
with guarded buffers), bit-exact with the reference; the phase packing on its own."""

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

from codegen_graphs import _act, _const, _weighted  # noqa: E402
from test_dsp_kernels import DSP, _check  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp_tconv import pack_tconv_weights  # noqa: E402
from qcompile.ir import Graph, Node  # noqa: E402
from qcompile.reference.kernels.transpose_conv import transpose_conv_out_hw  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
_SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _tconv_graph(seed: int, hw: tuple, ic: int, oc: int, k: tuple, s: tuple, pads: tuple, batches: int = 1) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dsptconv")
    x = _act(g, "x", (batches, *hw, ic), 0.05, int(rng.integers(-127, 128)))
    p = _weighted(rng, 0.05, 0.1, (oc, *k, ic), oc)
    oh, ow = transpose_conv_out_hw((batches, *hw, ic), (oc, *k, ic), s, pads)
    y = _act(g, "y", (batches, oh, ow, oc), 0.1, int(rng.integers(-20, 20)))
    attrs = {
        "strides": s,
        "pads": pads,
        "input_offset": -int(g.tensors[x].quant.zero_point),
        "output_offset": int(g.tensors[y].quant.zero_point),
        "multiplier": p["multiplier"],
        "shift": p["shift"],
        "act_min": -128 if seed & 1 else int(g.tensors[y].quant.zero_point),
        "act_max": 127,
    }
    inputs = [x, _const(g, "w", p["w"]), _const(g, "b", p["bias"])]
    g.add_node(Node("tconv", "transpose_conv2d", inputs, [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def test_pack_tconv_weights_phases() -> None:
    """2x2 filter, stride 2: each phase holds one tap; 3x3 stride 2: phase (0, 0) taps (0, 0),
    (0, 2), (2, 0), (2, 2) in column order, the others fewer (zeros after)."""
    w = np.arange(1, 1 + 2 * 3 * 3 * 1).reshape(2, 3, 3, 1)
    words = pack_tconv_weights(w, 2, 2)
    u = np.asarray(words, dtype=np.int64) & 0xFFFFFFFF
    lanes = np.stack([u & 0xFFFF, u >> 16], axis=1).reshape(4, 1, 1, 2, 2, 2)  # phase, pair, quad, ch, 2 words
    col = lanes.reshape(4, 2, 4)
    np.testing.assert_array_equal(col[0, 0], w[0, [0, 0, 2, 2], [0, 2, 0, 2], 0])
    np.testing.assert_array_equal(col[0, 1], w[1, [0, 0, 2, 2], [0, 2, 0, 2], 0])
    np.testing.assert_array_equal(col[3, 0], [w[0, 1, 1, 0], 0, 0, 0])  # phase (1, 1): tap (1, 1) only


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    ic=st.integers(1, 9),
    oc=st.integers(1, 7),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pad_seed=st.integers(0, 2**16),
)
def test_transpose_conv_bit_exact(tmp_path: Path, seed, hw, ic, oc, k, s, pad_seed) -> None:
    r = np.random.default_rng(pad_seed)
    pads = (int(r.integers(0, k[0])), int(r.integers(0, k[1])), int(r.integers(-1, k[0])), int(r.integers(-1, k[1])))
    try:
        transpose_conv_out_hw((1, *hw, ic), (oc, *k, ic), s, pads)
    except ValueError:
        return
    src = _check(_tconv_graph(seed, hw, ic, oc, k, s, pads, batches=1 + (seed & 1)), tmp_path / "tc", batch=2)
    assert "_column(" in src


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), ic=st.integers(1, 9), oc=st.integers(1, 5), s=st.integers(1, 3))
def test_transpose_conv_sanitized_with_guarded_buffers(tmp_path: Path, seed: int, ic: int, oc: int, s: int) -> None:
    g = _tconv_graph(seed, (3, 4), ic, oc, (3, 2), (s, s), (1, 0, 0, -1) if s > 1 else (1, 0, 1, 0))
    tmp = tmp_path / f"tc{seed}"
    generate(g, tmp / "out", name=g.name, target=DSP)
    check_model_sanitized(tmp / "out", tmp, graph=g, samples=2, seed=seed)
