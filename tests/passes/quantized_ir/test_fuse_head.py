"""fuse_head: a global avg_pool2d [-> reshape] -> fully_connected chain becomes one
avg_pool_fc node with identical results (ResNet-8 and DS-CNN heads included); no fusion
when an intermediate is a graph output or has another reader, or the pool is not global."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model, import_tflite_model
from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.passes.quantized_ir import fuse_head
from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.executor import run_quantized

_Q = QuantParams(0.05, -3)


def _act(g: Graph, name: str, shape: tuple[int, ...]) -> None:
    g.add_tensor(Tensor(name, shape, "int8", quant=_Q))


def _head(
    *, reshape: bool = True, pooled_is_output: bool = False, flat_is_output: bool = False, shared: bool = False
) -> Graph:
    rng = np.random.default_rng(0)
    g = Graph("head")
    _act(g, "x", (1, 5, 3, 6))
    _act(g, "p", (1, 1, 1, 6))
    g.inputs = ["x"]
    g.add_node(
        Node("pool", "avg_pool2d", ["x"], ["p"], dict(kernel=(5, 3), strides=(5, 3), pads=(0, 0, 0, 0), act_min=-128, act_max=127))
    )  # fmt: skip
    fc_in = "p"
    if reshape:
        _act(g, "f", (1, 6))
        g.add_node(Node("flat", "reshape", ["p"], ["f"], {"shape": (1, 6)}))
        fc_in = "f"
    w = g.add_constant("w", rng.integers(-127, 128, size=(4, 6), dtype=np.int8)).name
    b = g.add_constant("b", rng.integers(-999, 999, size=4).astype(np.int32)).name
    m, s = quantize_multiplier(0.01)
    _act(g, "y", (1, 4) if reshape else (1, 1, 1, 4))
    attrs = dict(input_offset=3, output_offset=-3, multiplier=np.int32(m), shift=np.int32(s), act_min=-128, act_max=127)
    g.add_node(Node("fc", "fully_connected", [fc_in, w, b], ["y"], attrs))
    g.outputs = ["y"]
    if pooled_is_output:
        g.outputs.append("p")
    if flat_is_output:
        g.outputs.append("f")
    if shared:
        _act(g, "z", (1, 1, 1, 6))
        g.add_node(Node("l", "lut", ["p"], ["z"], {"table": np.arange(-128, 128, dtype=np.int8)}))
        g.outputs.append("z")
    return g


@pytest.mark.parametrize("reshape", [True, False])
def test_fuses_and_keeps_results(reshape: bool) -> None:
    g = _head(reshape=reshape)
    x = np.random.default_rng(1).integers(-128, 128, size=(1, 5, 3, 6), dtype=np.int8)
    expected = run_quantized(g, [x])["y"]
    fused = fuse_head.run(g.copy())
    assert [n.op for n in fused.nodes] == ["avg_pool_fc"]
    node = fused.nodes[0]
    assert node.inputs == ["x", "w", "b"] and node.outputs == ["y"]
    assert node.attrs["flatten"] == int(reshape) and node.attrs["pool_kernel"] == (5, 3)
    assert "p" not in fused.tensors and "f" not in fused.tensors
    np.testing.assert_array_equal(run_quantized(fused, [x])["y"], expected)


def test_no_fusion_when_an_intermediate_is_visible() -> None:
    graphs = [_head(pooled_is_output=True), _head(flat_is_output=True), _head(shared=True)]
    graphs.append(_head(reshape=False, shared=True))
    for g in graphs:
        assert "avg_pool_fc" not in [n.op for n in fuse_head.run(g).nodes]


def test_no_fusion_for_a_local_pool() -> None:
    g = _head(reshape=False)
    g.nodes[0].attrs.update(kernel=(1, 1), strides=(1, 1))
    g.tensors["p"] = Tensor("p", (1, 5, 3, 6), "int8", quant=_Q)
    g.tensors["y"] = Tensor("y", (1, 5, 3, 4), "int8", quant=_Q)
    assert [n.op for n in fuse_head.run(g).nodes] == ["avg_pool2d", "fully_connected"]


@pytest.mark.parametrize("fixture", ["resnet8_tflite", "kws_tflite"])
def test_fires_on_mlperf_heads(fixture: str, request: pytest.FixtureRequest) -> None:
    g = import_tflite_model(request.getfixturevalue(fixture), CompileOptions())
    x = np.random.default_rng(2).integers(-128, 128, size=g.tensors[g.inputs[0]].shape, dtype=np.int8)
    expected = run_quantized(g, [x])
    fused = fuse_head.run(g.copy())
    ops = [n.op for n in fused.nodes]
    assert ops[-2:] == ["avg_pool_fc", "softmax"] and "avg_pool2d" not in ops and "reshape" not in ops
    assert len(fused.nodes) == len(g.nodes) - 2
    got = run_quantized(fused, [x])
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value)


def test_compiled_head_is_one_bit_exact_layer(tmp_path: Path, kws_tflite: Path) -> None:
    """Through compile_model: the report names the fused chain, the pooled vector is the
    layer's scratch (no arena tensor), and the host build matches the reference."""
    from qcompile.compiler import compile_model
    from qcompile.tools.verify import verify

    report = compile_model(kws_tflite, tmp_path / "out", CompileOptions(progress=False))
    (head,) = [layer for layer in report["layers"] if layer["op"] == "avg_pool_fc"]
    assert head["fused"] == ["avg_pool2d", "reshape", "fully_connected"] and head["scratch_bytes"] == 64
    assert not [layer for layer in report["layers"] if layer["op"] in ("avg_pool2d", "reshape")]
    result = verify(tmp_path / "out", limit=8)
    assert result.bit_exact == result.samples > 0


def test_dsp_family_keeps_the_specialised_fc(tmp_path: Path, kws_tflite: Path) -> None:
    """On the DSP family the head stays unfused: its FC kernel beats the portable fused head."""
    report = compile_model(kws_tflite, tmp_path / "m7", CompileOptions(target="cortex-m7", progress=False))
    ops = [layer["op"] for layer in report["layers"]]
    assert "avg_pool_fc" not in ops and "fully_connected" in ops
