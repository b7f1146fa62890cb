"""DSP family element-wise kernels (codegen/families/dsp_eltwise.py): random int8 add/sub/mul
with broadcasting (one operand constant too) and table lookups generated for a dsp target,
built on the host with the emulated intrinsics (plain and under ASan/UBSan with guarded
buffers), bit-exact with the reference; the broadcast folding on its own."""

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

from codegen_graphs import _act, _const  # noqa: E402
from test_dsp_kernels import DSP, _check  # noqa: E402

from qcompile import op_params  # noqa: E402
from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp_eltwise import collapse_broadcast  # noqa: E402
from qcompile.ir import Graph, Node, QuantParams  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
_SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: (in1 shape, in2 shape): same shape, SE-style channel vector, scalar, both sides broadcasting
SHAPES = [
    ((2, 3, 5), (2, 3, 5)),
    ((1, 4, 3, 6), (1, 1, 1, 6)),
    ((1, 1, 1, 6), (1, 4, 3, 6)),
    ((3, 7), (1,)),
    ((4, 1, 5), (1, 3, 1)),
    ((2, 1, 3, 1, 2), (1, 4, 1, 2, 1)),
]


def _binary_graph(seed: int, op: str, shapes: tuple, const: bool, subtract: bool = False) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph(f"dsp{op}")
    q = [QuantParams(float(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128))) for _ in range(3)]
    out_shape = tuple(int(d) for d in np.broadcast_shapes(*shapes))
    x1 = _act(g, "x1", shapes[0], q[0].scale, q[0].zero_point)
    if const:
        x2 = _const(g, "x2", rng.integers(-128, 128, size=shapes[1], dtype=np.int8))
        g.tensors[x2].quant = q[1]
    else:
        x2 = _act(g, "x2", shapes[1], q[1].scale, q[1].zero_point)
    y = _act(g, "y", out_shape, q[2].scale, q[2].zero_point)
    act_min = -128 if seed & 1 else max(-128, q[2].zero_point)
    if op == "add":
        attrs = op_params.add_params(*q, act_min=act_min, act_max=127, subtract=subtract)
    else:
        attrs = op_params.mul_params(*q, act_min=act_min, act_max=127)
    g.add_node(Node(op, op, [x1, x2], [y], attrs))
    g.inputs, g.outputs = [x1] if const else [x1, x2], [y]
    g.validate()
    return g


def _lut_graph(seed: int, shape: tuple) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dsplut")
    x = _act(g, "x", shape, 0.1, 0)
    y = _act(g, "y", shape, 0.1, 0)
    g.add_node(Node("lut", "lut", [x], [y], {"table": rng.integers(-128, 128, size=256, dtype=np.int8)}))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def test_collapse_broadcast_merges_contiguous_dims() -> None:
    # SE block: [1, H, W, C] * [1, 1, 1, C] -> H*W rows of C, in2 restarting each row
    assert collapse_broadcast((1, 1, 4, 3, 6), (0, 0, 18, 6, 1), (0, 0, 0, 0, 1)) == [(12, 6, 0), (6, 1, 1)]
    assert collapse_broadcast((1, 2, 3, 5, 7), (0, 105, 35, 7, 1), (0, 105, 35, 7, 1)) == [(210, 1, 1)]
    assert collapse_broadcast((1, 1, 1, 1, 1), (0,) * 5, (0,) * 5) == [(1, 0, 0)]
    assert collapse_broadcast((1, 1, 1, 3, 7), (0, 0, 0, 7, 1), (0, 0, 0, 0, 0)) == [(21, 1, 0)]


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    op=st.sampled_from(["add", "sub", "mul"]),
    shapes=st.sampled_from(SHAPES),
    const=st.booleans(),
)
def test_binary_bit_exact(tmp_path: Path, seed: int, op: str, shapes: tuple, const: bool) -> None:
    g = _binary_graph(seed, "mul" if op == "mul" else "add", shapes, const, subtract=op == "sub")
    src = _check(g, tmp_path / "bin", batch=2)
    assert "_op(" in src


@_SETTINGS
@given(seed=st.integers(0, 2**16), shape=st.sampled_from([(1,), (3,), (4,), (2, 7, 5), (1, 6, 6, 9)]))
def test_lut_bit_exact(tmp_path: Path, seed: int, shape: tuple) -> None:
    src = _check(_lut_graph(seed, shape), tmp_path / "lut")
    assert "table by raw byte" in src or "qc_read_s8x4" in src


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), kind=st.sampled_from(["add", "mul", "lut"]), shapes=st.sampled_from(SHAPES))
def test_eltwise_sanitized_with_guarded_buffers(tmp_path: Path, seed: int, kind: str, shapes: tuple) -> None:
    """ASan + UBSan, inputs, outputs and the arena at the ends of guarded mappings."""
    g = _lut_graph(seed, shapes[0]) if kind == "lut" else _binary_graph(seed, kind, shapes, False)
    tmp = tmp_path / f"{kind}{seed}"
    generate(g, tmp / "out", name=g.name, target=DSP)
    check_model_sanitized(tmp / "out", tmp, graph=g, samples=2, seed=seed)


def test_add_without_the_one_smlal_form(tmp_path: Path) -> None:
    """An output shift of 0 has no rounding shift for qc_requantize_x2: TFLM's sequence instead."""
    g = _binary_graph(3, "add", SHAPES[1], False)
    g.nodes[0].attrs.update(output_shift=0, output_multiplier=1 << 20)
    src = _check(g, tmp_path / "slow")
    assert "qc_requantize_x2" not in src.split("_op(int32_t x1")[1].split("}")[0]
