"""Row streaming (qcompile.memory.streams) with the DSP conv kernels (built on the host with the
emulated intrinsics): random conv pairs and residual blocks (the second conv fused with the add,
written in place over the block input) generated with a --ram-budget that needs the streamed
plan run under ASan + UBSan with guarded buffers and give the reference's bytes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from c_driver import check_model_sanitized
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_graphs import DSP, _act  # noqa: E402
from test_overlap_exec import _layer  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.ir import Graph, Node  # noqa: E402
from qcompile.memory.overlap import Window  # noqa: E402
from qcompile.memory.streams import stream_safe  # noqa: E402
from qcompile.op_params import add_params  # noqa: E402
from qcompile.passes.quantized_ir import fuse_residual  # noqa: E402
from qcompile.targets import Target  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def block(seed: int, h: int, w: int, c: int, k: int, residual: bool, stride: int = 1, oc: int = 0) -> Graph:
    """x -> conv kxk -> t -> conv (stride) [-> add x, fused into conv2d_add] -> y."""
    rng = np.random.default_rng(seed)
    g = Graph(f"block{seed}")
    x = _act(g, "x", (1, h, w, c), 0.05, int(rng.integers(-128, 128)))
    t = _layer(g, rng, 0, x, "conv" if k == 3 else "pw", c, 1)
    y = _layer(g, rng, 1, t, "conv", c if residual else (oc or c), 1 if residual else stride)
    if residual:
        z = _act(g, "z", (1, h, w, c), 0.12, int(rng.integers(-20, 20)))
        q = {n: g.tensors[n].quant for n in (y, x, z)}
        attrs = add_params(q[y], q[x], q[z], act_min=-128, act_max=127)
        g.add_node(Node("add", "add", [y, x], [z], attrs))
        y = z
    g.inputs, g.outputs = [x], [y]
    g.validate()
    if residual:
        fuse_residual.run(g)
        assert [n.op for n in g.nodes] == ["conv2d", "conv2d_add"]
    return g


def check_streamed(g: Graph, tmp: Path, io_in_arena: bool, target: Target = DSP, strict: bool = True) -> dict | None:
    """None when streaming saves nothing (scratch and alignment may eat the ring's gain), or,
    with ``strict`` off, when the plan streams another pair than the block's two convs."""
    plain = generate(g, tmp / "plain", name=g.name, target=target, io_in_arena=io_in_arena)
    size = plain["below_bound"]["available_arena_bytes"]
    if size is None or size >= plain["arena_bytes"]:
        return None
    out = tmp / "streamed"
    report = generate(g, out, name=g.name, target=target, io_in_arena=io_in_arena, ram_budget=size)
    pairs = [[g.nodes[0].name, g.nodes[1].name]]
    if not strict and report["below_bound"]["streamed_pairs"] != pairs:
        return None
    assert report["below_bound"]["streamed_pairs"] == pairs
    assert report["arena_bytes"] <= size
    check_model_sanitized(out, tmp, graph=g, samples=2, seed=len(g.name))
    return report


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(8, 12), st.integers(2, 7)),  # many more rows than the ring of 3
    c=st.integers(3, 16),
    k=st.sampled_from([1, 3]),
    residual=st.booleans(),
    stride=st.integers(1, 2),
    oc=st.integers(1, 12),
)
def test_random_streamed_pairs_sanitized(tmp_path: Path, seed, hw, c, k, residual, stride, oc) -> None:
    g = block(seed, hw[0], hw[1], c, k, residual, stride, oc)
    assume(check_streamed(g, tmp_path / f"s{seed}", io_in_arena=residual) is not None)


def test_resnet_first_stage_shape(tmp_path: Path) -> None:
    """32x32x16 residual block: the skip tensor plus a ring of three rows and the scratch."""
    g = block(3, 32, 32, 16, 3, residual=True)
    report = check_streamed(g, tmp_path, io_in_arena=True)
    assert report is not None and report["arena_bytes"] <= 16384 + 3 * 32 * 16 + 2 * 576


def test_stream_safe_rows() -> None:
    """A 3x3 'same' pair written in place over its input is safe: the producer's next row reads
    from the row after the one just written. After a 1x1 consumer it is not: writing output
    row j overwrites input row j, which the producer's row j + 1 still reads."""
    a = Window(8, 4, 2, 8, 4, 2, 3, 3, pt=1, pl=1)
    assert stream_safe(a, a)
    assert not stream_safe(a, Window(8, 4, 2, 8, 4, 2, 1, 1))
    assert not stream_safe(a, Window(8, 4, 2, 4, 4, 2, 3, 3, sh=2, pt=1, pl=1))  # output shape differs
