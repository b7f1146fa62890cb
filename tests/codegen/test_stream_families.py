"""Row streaming (qcompile.memory.streams) on the families whose streamed kernels compute bands of
output rows from a window of rows (qcompile.codegen.streaming): the portable band kernels
(qc_conv2d_band_s8, qc_conv2d_add_band_s8) and the Helium per-layer functions in stream mode
(the emulated intrinsics on the host). Random conv pairs and residual blocks generated with a
--ram-budget that needs the streamed plan run under ASan + UBSan with guarded buffers and give
the reference's bytes (the layer-by-layer build's)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from c_driver import check_model_sanitized
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_stream_exec import block  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.ir import Graph  # noqa: E402
from qcompile.targets import Target  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

FAMILIES = ("portable", "mve")


def _target(family: str) -> Target:
    return Target(name=f"{family}-host-test", kernel_family=family, cc="cc", cflags=("-O2",))


def check_streamed(g: Graph, tmp: Path, family: str, io_in_arena: bool) -> dict | None:
    """None when streaming saves nothing (scratch and alignment may eat the window's gain)."""
    target = _target(family)
    plain = generate(g, tmp / "plain", name=g.name, target=target, io_in_arena=io_in_arena)
    size = plain["below_bound"]["available_arena_bytes"]
    if size is None or size >= plain["arena_bytes"]:
        return None
    out = tmp / "streamed"
    report = generate(g, out, name=g.name, target=target, io_in_arena=io_in_arena, ram_budget=size)
    if report["below_bound"]["streamed_pairs"] != [[g.nodes[0].name, g.nodes[1].name]]:
        return None
    assert report["arena_bytes"] <= size
    check_model_sanitized(out, tmp, graph=g, samples=2, seed=len(g.name))
    return report


@pytest.mark.parametrize("family", FAMILIES)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(20, 30), st.integers(6, 12)),  # many more rows than the window of 3
    c=st.integers(6, 16),
    k=st.sampled_from([1, 3]),
    residual=st.booleans(),
    stride=st.integers(1, 2),
    oc=st.integers(1, 12),
)
def test_random_streamed_pairs_sanitized(tmp_path: Path, family, seed, hw, c, k, residual, stride, oc) -> None:
    g = block(seed, hw[0], hw[1], c, k, residual, stride, oc)
    assume(check_streamed(g, tmp_path / f"{family}{seed}", family, io_in_arena=residual) is not None)


@pytest.mark.parametrize("family", FAMILIES)
def test_resnet_first_stage_shape(tmp_path: Path, family: str) -> None:
    """32x32x16 residual block: the skip tensor plus a window of three rows and both scratches."""
    g = block(3, 32, 32, 16, 3, residual=True)
    report = check_streamed(g, tmp_path, family, io_in_arena=True)
    assert report is not None and report["arena_bytes"] < 2 * 16384
