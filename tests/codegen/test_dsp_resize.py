"""DSP family bilinear resize (codegen/families/dsp_resize.py): random int8 resizes (up and down,
odd sizes, align_corners / half_pixel_centers) generated for a dsp target, built on the host
with the emulated intrinsics (plain and under ASan/UBSan with guarded buffers), bit-exact with
the reference."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from c_driver import check_model_sanitized
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_graphs import _act  # noqa: E402
from test_dsp_kernels import DSP, _check  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp_resize import resize_eligible  # noqa: E402
from qcompile.ir import Graph, Node  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def _resize_graph(n: int, hw: tuple, c: int, size: tuple, mode: int) -> Graph:
    g = Graph("dspresize")
    x = _act(g, "x", (n, *hw, c), 0.1, 3)
    y = _act(g, "y", (n, *size, c), 0.1, 3)
    attrs = {"size": size, "align_corners": int(mode == 1), "half_pixel_centers": int(mode == 2)}
    g.add_node(Node("rs", "resize_bilinear", [x], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    size=st.tuples(st.integers(1, 15), st.integers(1, 15)),
    c=st.integers(1, 5),
    mode=st.integers(0, 2),
    n=st.integers(1, 2),
)
def test_resize_bilinear_bit_exact(tmp_path: Path, hw: tuple, size: tuple, c: int, mode: int, n: int) -> None:
    g = _resize_graph(n, hw, c, size, mode)
    assert resize_eligible(g, g.nodes[0])
    src = _check(g, tmp_path / "rs", batch=2)
    assert "qc_smuad" in src


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.tuples(st.integers(1, 13), st.integers(1, 13)), mode=st.integers(0, 2))
def test_resize_bilinear_sanitized_with_guarded_buffers(tmp_path: Path, size: tuple, mode: int) -> None:
    g = _resize_graph(1, (5, 3), 3, size, mode)
    tmp = tmp_path / f"rs{size[0]}x{size[1]}m{mode}"
    generate(g, tmp / "out", name=g.name, target=DSP)
    check_model_sanitized(tmp / "out", tmp, graph=g, samples=2, seed=size[0])
