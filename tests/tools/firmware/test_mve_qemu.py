"""The Helium (MVE) kernels with the real instructions, under QEMU's Cortex-M55
(``mps3-an547``): many random layers side by side in one graph, so one build and one boot
check them all against the numpy reference; the requantisation edges; the MLPerf models
on the M55 under CMSIS-NN Helium's instruction counts."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "codegen"))

from mve_graphs import conv_add_graph, conv_graph, dw_graph, fc_graph, merge, requant_edges_graph  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.ir import Graph  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402
from qcompile.targets import load_target  # noqa: E402
from qcompile.tools.firmware import run_on_qemu  # noqa: E402

M55 = load_target("cortex-m55")


def _run_and_compare(g: Graph, tmp: Path, samples: int = 3, seed: int = 0) -> str:
    """Generate for cortex-m55 (mve), run ``samples`` random inputs in one QEMU boot, compare
    every output with the reference; returns the kernels source."""
    tmp = Path(tempfile.mkdtemp(dir=tmp))  # hypothesis reuses tmp_path across examples
    src = tmp / "src"
    generate(g, src, name=g.name, target=M55)
    rng = np.random.default_rng(seed)
    inputs = [rng.integers(-128, 128, size=(samples, *g.tensors[n].shape[1:]), dtype=np.int8) for n in g.inputs]
    # a 2-D FC input keeps its row axis: samples ride on a new leading axis
    inputs = [
        rng.integers(-128, 128, size=(samples, *g.tensors[n].shape), dtype=np.int8)
        if len(g.tensors[n].shape) == 2
        else x
        for n, x in zip(g.inputs, inputs, strict=True)
    ]
    result = run_on_qemu(src, M55, [x.reshape(samples, -1) for x in inputs], build_dir=tmp / "build")
    for i in range(samples):
        ref = run_quantized(g, [x[i].reshape(g.tensors[n].shape) for n, x in zip(g.inputs, inputs, strict=True)])
        for j, name in enumerate(g.outputs):
            np.testing.assert_array_equal(result.outputs[j][i], ref[name].reshape(-1), err_msg=f"sample {i} {name}")
    return (src / f"{g.name}_kernels.c").read_text()


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    hw=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    c=st.sampled_from([1, 3, 5, 8, 16, 20]),
    oc=st.integers(1, 19),
    k=st.sampled_from([(3, 3), (5, 5), (10, 4), (2, 3)]),
    s=st.integers(1, 2),
    fc=st.tuples(st.integers(1, 3), st.integers(1, 70), st.integers(1, 13)),
    operand=st.sampled_from([1, 2]),
)
def test_random_layers_bit_exact_on_m55(
    tmp_path: Path, seed: int, hw: tuple, c: int, oc: int, k: tuple, s: int, fc: tuple, operand: int
) -> None:
    """General / strided / first-layer conv, 1x1 conv, depthwise (channel tails), FC, fused
    residual add (either operand, SUB), random sizes incl. counts not multiples of 4 / 16."""
    pad = k[0] // 2
    layers = [
        conv_graph(seed, *hw, c, oc, (1, 1), 1, 0, True),
        dw_graph(seed + 1, *hw, c, (3, 3), s, 1),
        fc_graph(seed + 2, *fc),
        conv_add_graph(seed + 3, hw, c, oc, operand, subtract=seed % 3 == 0),
    ]
    if k[0] <= hw[0] + 2 * pad and k[1] <= hw[1] + 2 * pad:
        layers.append(conv_graph(seed + 4, *hw, c, oc, k, s, pad, seed % 2 == 0))
    src = _run_and_compare(merge("mverand", layers), tmp_path, seed=seed)
    assert src.count("_mve(const int8_t *input") == 2 * len(layers)  # declaration + definition: all specialised


def test_requant_edges_bit_exact_on_m55(tmp_path: Path) -> None:
    """Ties of the final rounding at every right shift, left shifts, int32-extreme accumulators:
    VQRDMULH / VRSHL and the fixup as QEMU executes them (checked against their pseudo-code)."""
    _run_and_compare(requant_edges_graph(), tmp_path, samples=1)


@pytest.mark.parametrize("model", ["resnet8", "kws"])
def test_mlperf_under_cmsis_nn_helium_counts(model: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Bit-exact with per-layer timing hooks, and fewer executed instructions than CMSIS-NN's
    Helium kernels on the same machine (ResNet-8 4.91 M, DS-CNN 1.81 M: ../shared/ANCHORS.md 6)."""
    graph = request.getfixturevalue("resnet8_qgraph" if model == "resnet8" else "kws_qgraph")
    generate(graph, tmp_path / "src", name=model, target=M55)
    rng = np.random.default_rng(4)
    inputs = [rng.integers(-128, 128, size=(1, *graph.tensors[n].shape[1:]), dtype=np.int8) for n in graph.inputs]
    result = run_on_qemu(tmp_path / "src", M55, inputs, layer_counts=True)
    ref = run_quantized(graph, [x[:1] for x in inputs])
    np.testing.assert_array_equal(result.outputs[0][0], ref[graph.outputs[0]].reshape(-1))
    assert result.total_instructions[0] <= {"resnet8": 4_910_000, "kws": 1_810_000}[model]
