"""Row streaming (qcompile.memory.streams) on the families whose streamed kernels compute bands of
output rows from a window of rows (qcompile.codegen.streaming): the portable band kernels
(qc_conv2d_band_s8, qc_conv2d_add_band_s8) and the Helium per-layer functions in stream mode
(the emulated intrinsics on the host). Random conv pairs and residual blocks generated with a
--ram-budget that needs the streamed plan run under ASan + UBSan with guarded buffers and give
the reference's bytes (the layer-by-layer build's). The Helium and NEON overlap contracts
(``interleaved``, ``interleaved4``, ``channel``) on random conv/depthwise chains likewise."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_overlap_exec import _KIND, chain, check_overlapped  # noqa: E402
from test_stream_exec import block  # noqa: E402
from test_stream_exec import check_streamed as check_streamed_on  # noqa: E402

from qcompile.ir import Graph  # noqa: E402
from qcompile.targets import Target  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

FAMILIES = ("portable", "mve", "neon")


def _target(family: str) -> Target:
    return Target(name=f"{family}-host-test", kernel_family=family, cc="cc", cflags=("-O2",))


def check_streamed(g: Graph, tmp: Path, family: str, io_in_arena: bool) -> dict | None:
    """test_stream_exec's check on ``family``; None also when another pair streams."""
    return check_streamed_on(g, tmp, io_in_arena, _target(family), strict=False)


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


@pytest.mark.parametrize("family", ["mve", "neon"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    c=st.integers(1, 20),
    kinds=st.lists(_KIND, min_size=2, max_size=5),
    io=st.booleans(),
)
def test_random_overlapped_chains_sanitized(tmp_path: Path, family, seed, hw, c, kinds, io) -> None:
    g = chain(seed, hw[0], hw[1], c, kinds)
    check_overlapped(g, tmp_path / f"{family}{seed}", _target(family), io)


@pytest.mark.parametrize("family", ["mve", "neon"])
def test_dscnn_shaped_chain_overlaps(tmp_path: Path, family: str) -> None:
    """25x5x64 depthwise/pointwise pairs overlap on the Helium and NEON kernels too."""
    g = chain(7, 25, 5, 64, [("dw", 64, 1), ("pw", 64, 1), ("dw", 64, 1), ("pw", 64, 1)])
    report = check_overlapped(g, tmp_path, _target(family), io_in_arena=True)
    assert report["below_bound"]["used"]
