"""DSP family attention kernels (codegen/families/dsp_attention.py): random int8 softmax and
batch_matmul layers generated for a dsp target, built on the host with the emulated
intrinsics (plain, and under ASan/UBSan with guarded buffers), bit-exact with the reference."""

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

from codegen_graphs import _act  # noqa: E402
from test_dsp_kernels import DSP, _check  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp_attention import attention_eligible, softmax_exp_table  # noqa: E402
from qcompile.host.build import build_host_library  # noqa: E402
from qcompile.ir import Graph, Node, Tensor  # noqa: E402
from qcompile.quant.fixedpoint import quantize_multiplier  # noqa: E402
from qcompile.reference import ops  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
_SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _softmax_graph(shape: tuple[int, ...], mult: int, left: int, diff_min: int) -> Graph:
    g = Graph("dspsm")
    x = _act(g, "x", shape, 0.1, 0)
    y = _act(g, "y", shape, 1 / 256, -128)
    attrs = {"input_multiplier": mult, "input_left_shift": left, "diff_min": diff_min}
    g.add_node(Node("sm", "softmax", [x], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


def _bmm_graph(seed: int, batch_a: tuple, batch_b: tuple, m: int, n: int, k: int, adj_x: int, adj_y: int) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dspbmm")
    a_shape = (*batch_a, *((k, m) if adj_x else (m, k)))
    b_shape = (*batch_b, *((n, k) if adj_y else (k, n)))
    out_batch = tuple(max(p, q) for p, q in zip(batch_a, batch_b, strict=True))
    a = _act(g, "a", a_shape, 0.05, int(rng.integers(-128, 128)))
    b = _act(g, "b", b_shape, 0.05, int(rng.integers(-128, 128)))
    y = _act(g, "y", (*out_batch, m, n), 0.5, int(rng.integers(-20, 20)))
    mult, shift = quantize_multiplier(float(rng.uniform(0.0005, 0.05)) / np.sqrt(k))
    attrs = {
        "adj_x": adj_x,
        "adj_y": adj_y,
        "lhs_offset": -int(g.tensors[a].quant.zero_point),
        "rhs_offset": -int(g.tensors[b].quant.zero_point),
        "output_offset": int(g.tensors[y].quant.zero_point),
        "output_multiplier": mult,
        "output_shift": shift,
        "act_min": -128 if seed & 1 else int(g.tensors[y].quant.zero_point),
        "act_max": 127,
    }
    g.add_node(Node("bmm", "batch_matmul", [a, b], [y], attrs))
    g.inputs, g.outputs = [a, b], [y]
    g.validate()
    return g


def test_exp_table_matches_reference_softmax() -> None:
    """The table is the reference's exp of x - max: a row holding 0 and d gives d's entry."""
    mult, left, diff_min = 1501116928, 23, -248
    table = softmax_exp_table(mult, left, diff_min)
    assert table.shape == (256,) and table[255] == 2**31 - 1  # exp(0) saturates to INT32_MAX
    assert (table[: 255 + diff_min] == 0).all() and (table[255 + diff_min :] > 0).all()
    assert (np.diff(table) >= 0).all()


@_SETTINGS
@given(
    rows=st.integers(1, 6),
    depth=st.integers(1, 70),
    mult=st.integers(2**30, 2**31 - 1),
    left=st.integers(0, 31),
    diff_min=st.integers(-300, 0),
)
def test_softmax_bit_exact(tmp_path: Path, rows: int, depth: int, mult: int, left: int, diff_min: int) -> None:
    src = _check(_softmax_graph((rows, depth), mult, left, diff_min), tmp_path / "sm")
    assert "qc_softmax_reciprocal" in src


def test_softmax_long_rows_reach_zero_outputs(tmp_path: Path) -> None:
    """Rows of 600 near-equal exps: the sum passes 2^28 and the output shift exceeds 31 (all -128)."""
    g = _softmax_graph((2, 600), 2**30, 0, -248)
    _check(g, tmp_path / "long")
    x = np.zeros((1, 600), dtype=np.int8)
    assert (ops.softmax(x, input_multiplier=2**30, input_left_shift=0, diff_min=-248) == -128).all()


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    batch=st.sampled_from([((1,), (1,)), ((3,), (3,)), ((2, 1), (1, 3)), ((1, 2, 2), (1, 1, 2))]),
    m=st.integers(1, 9),
    n=st.integers(1, 9),
    k=st.sampled_from([1, 2, 3, 4, 5, 7, 16, 33, 49, 64, 65, 80]),
    adj=st.tuples(st.integers(0, 1), st.integers(0, 1)),
)
def test_batch_matmul_bit_exact(tmp_path: Path, seed: int, batch: tuple, m: int, n: int, k: int, adj: tuple) -> None:
    g = _bmm_graph(seed, batch[0], batch[1], m, n, k, *adj)
    src = _check(g, tmp_path / "bmm", batch=2)
    assert "qc_smlad" in src


def test_batch_matmul_too_deep_for_int32_stays_portable() -> None:
    g = _bmm_graph(1, (1,), (1,), 2, 2, 4, 0, 0)
    assert attention_eligible(g, g.nodes[0])
    g2 = _bmm_graph(1, (1,), (1,), 2, 2, 32768, 0, 0)
    g2.nodes[0].attrs.update(lhs_offset=-128, rhs_offset=-128)  # 32768 * 256 * 256 = 2^31
    assert not attention_eligible(g2, g2.nodes[0])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["softmax", "bmm"]),
    dims=st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 21)),
)
def test_attention_layers_sanitized_with_guarded_buffers(tmp_path: Path, seed: int, kind: str, dims: tuple) -> None:
    """ASan + UBSan, inputs, outputs and the arena (scratch) at the ends of guarded mappings."""
    m, n, k = dims
    if kind == "softmax":
        g = _softmax_graph((m, k), 2**30 + seed, seed % 32, -(seed % 256))
    else:
        g = _bmm_graph(seed, (2,), (2,), m, n, k, seed & 1, (seed >> 1) & 1)
    tmp = tmp_path / f"{kind}{seed}"
    generate(g, tmp / "out", name=g.name, target=DSP)
    assert (tmp / "out" / f"{g.name}_kernels.c").is_file()
    check_model_sanitized(tmp / "out", tmp, graph=g, samples=2, seed=seed)


def _layer_norm_graph(seed: int, rows: int, cols: int, eps: int, out_shift: int) -> Graph:
    rng = np.random.default_rng(seed)
    g = Graph("dspln")
    x = _act(g, "x", (rows, cols), 0.05, int(rng.integers(-128, 128)))
    y = _act(g, "y", (rows, cols), 0.05, int(rng.integers(-20, 20)))
    gamma = rng.integers(-(2**22), 2**22, size=cols).astype(np.int32) << int(rng.integers(0, 8))
    beta = rng.integers(-(2**40), 2**40, size=cols) >> (40 - min(out_shift + 7, 40))
    g.add_tensor(Tensor("gamma", (cols,), "int32", gamma))
    g.add_tensor(Tensor("beta", (cols,), "int32", np.clip(beta, -(2**31), 2**31 - 1).astype(np.int32)))
    attrs = {"eps": eps, "out_shift": out_shift, "output_offset": int(g.tensors[y].quant.zero_point)}
    attrs.update(act_min=-128 if seed & 1 else -100, act_max=127)
    g.add_node(Node("ln", "layer_norm", [x, "gamma", "beta"], [y], attrs))
    g.inputs, g.outputs = [x], [y]
    g.validate()
    return g


@_SETTINGS
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 5),
    cols=st.integers(1, 130),
    eps=st.sampled_from([0, 1, 25, 2**20, 2**31 - 1]),
    out_shift=st.integers(8, 40),
)
def test_layer_norm_bit_exact(tmp_path: Path, seed: int, rows: int, cols: int, eps: int, out_shift: int) -> None:
    src = _check(_layer_norm_graph(seed, rows, cols, eps, out_shift), tmp_path / "ln")
    assert "qc_layer_norm_rsqrt" in src


def _run_c(g: Graph, tmp: Path, x: np.ndarray) -> np.ndarray:
    """Generate ``g`` for the dsp family, build it on the host and run the batch ``x`` (one input)."""
    from qcompile.host._runtime import ModelLibrary

    report = generate(g, tmp / "out", name=g.name, target=DSP)
    lib = build_host_library(tmp / "out", name=report["c_name"], build_dir=tmp / "b")
    sizes = [g.tensors[n].size for n in g.inputs], [g.tensors[n].size for n in g.outputs]
    return ModelLibrary(str(lib), report["c_name"], *sizes, 0).run([x])[0]


def test_layer_norm_constant_rows_and_wide_rows(tmp_path: Path) -> None:
    """W = 0 (eps 0 and rows of equal values: t = 0, the output is beta's) and extreme rows of
    the widest C (4096): the sum of squares and W at their largest."""
    g = _layer_norm_graph(7, 2, 4096, 0, 30)
    x = np.stack([np.full((2, 4096), 5), np.tile([-128, 127], (2, 2048)), np.full((2, 4096), -128)]).astype(np.int8)
    out = _run_c(g, tmp_path, x)
    for b in range(x.shape[0]):
        np.testing.assert_array_equal(out[b], run_quantized(g, [x[b]])[g.outputs[0]].reshape(-1))


@pytest.mark.parametrize("k", [64, 65, 130])
def test_batch_matmul_unrolled_and_looped_depths(tmp_path: Path, k: int) -> None:
    """K <= 64 is unrolled (immediate offsets), deeper K loops over LDRD quads: both bit-exact."""
    src = _check(_bmm_graph(k, (2,), (1,), 3, 5, k, 0, 1), tmp_path / "bmm", batch=2)
    assert (f"K = {k}: unrolled" in src) == (k <= 64)
