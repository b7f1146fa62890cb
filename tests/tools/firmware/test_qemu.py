"""The generated C on the Cortex-M cores, in QEMU: ResNet-8 and DS-CNN bit-exact with the
numpy reference on every target that has a QEMU machine; instruction counts deterministic
and consistent; the test image's build (weights section, -Werror, size split); errors
that name the Debian package to install."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from qcompile.codegen import generate
from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.reference.executor import run_quantized
from qcompile.targets import load_target
from qcompile.tools.firmware import build_image, run_on_qemu, size_split

MLPERF_TARGETS = ["cortex-m7", "cortex-m4", "cortex-m33", "cortex-m55"]


def _reference(graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Reference outputs shaped like QemuResult.outputs: one (samples, size) array per output."""
    n = len(inputs[0])
    rows: list[list[np.ndarray]] = [[] for _ in graph.outputs]
    for i in range(n):
        ref = run_quantized(graph, [a[i : i + 1] for a in inputs])
        for j, name in enumerate(graph.outputs):
            rows[j].append(np.asarray(ref[name]).reshape(-1))
    return [np.stack(r) for r in rows]


def _random_inputs(graph: Graph, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=(n, *graph.tensors[t].shape[1:]), dtype=np.int8) for t in graph.inputs]


@pytest.mark.parametrize("target_name", MLPERF_TARGETS)
def test_resnet8_bit_exact(target_name: str, resnet8_qgraph: Graph, tmp_path: Path) -> None:
    target = load_target(target_name)
    generate(resnet8_qgraph, tmp_path / "src", name="resnet8", target=target)
    inputs = _random_inputs(resnet8_qgraph, 24, seed=3)
    result = run_on_qemu(tmp_path / "src", target, inputs)
    expected = _reference(resnet8_qgraph, inputs)
    bad = [i for i in range(24) if not np.array_equal(result.outputs[0][i], expected[0][i])]
    assert not bad, f"{target_name}: samples {bad} differ from the reference"
    # the whole network is millions of instructions on every core (Helium: 12.5 M MACs, >= 4 per instruction)
    assert result.total_instructions.shape == (24,) and (result.total_instructions > 2_000_000).all()


@pytest.mark.parametrize("target_name", MLPERF_TARGETS)
def test_kws_bit_exact_on_real_data(
    target_name: str, kws_qgraph: Graph, kws_int8_samples: np.ndarray, tmp_path: Path
) -> None:
    target = load_target(target_name)
    generate(kws_qgraph, tmp_path / "src", name="kws", target=target)
    inputs = [kws_int8_samples[:32]]
    result = run_on_qemu(tmp_path / "src", target, inputs)
    expected = _reference(kws_qgraph, inputs)
    np.testing.assert_array_equal(result.outputs[0], expected[0])


def test_layer_counts_deterministic_and_consistent(kws_qgraph: Graph, tmp_path: Path) -> None:
    target = load_target("cortex-m7")
    generate(kws_qgraph, tmp_path / "src", name="kws", target=target)
    inputs = _random_inputs(kws_qgraph, 2, seed=5)
    first = run_on_qemu(tmp_path / "src", target, inputs, layer_counts=True)
    second = run_on_qemu(tmp_path / "src", target, inputs, layer_counts=True)
    assert first.layer_instructions is not None and second.layer_instructions is not None
    np.testing.assert_array_equal(first.layer_instructions, second.layer_instructions)
    np.testing.assert_array_equal(first.total_instructions, second.total_instructions)
    n_layers = len(kws_qgraph.nodes)
    assert first.layer_instructions.shape == (2, n_layers)
    # layers are timed inside the total; what is left is call overhead and timer reads
    tick = target.qemu.instructions_per_tick
    gap = first.total_instructions - first.layer_instructions.sum(axis=1)
    assert (gap >= -n_layers * tick).all() and (gap < 200 * n_layers + 2000).all(), gap
    convs = [i for i, node in enumerate(kws_qgraph.nodes) if node.op in ("conv2d", "depthwise_conv2d")]
    assert (first.layer_instructions[:, convs] > 10_000).all()
    # the hooks change the count by a few instructions per layer at most
    plain = run_on_qemu(tmp_path / "src", target, inputs)
    assert (np.abs(plain.total_instructions - first.total_instructions) < 50 * n_layers + 2 * tick).all()
    np.testing.assert_array_equal(plain.outputs[0], first.outputs[0])


def test_m0plus_builds_strictly_and_runs(tmp_path: Path) -> None:
    """ARMv6-M (no DSP, no FPU) through the portable kernels, on the micro:bit's Cortex-M0."""
    from conftest import EXAMPLE_DIR

    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.outdir import ModelFolder

    out = tmp_path / "digits"
    compile_model(
        EXAMPLE_DIR / "digits_cnn.onnx",
        out,
        CompileOptions(target="cortex-m0plus", calib=EXAMPLE_DIR / "calib.npz", progress=False),
    )
    graph = ModelFolder.open(out).graph
    inputs = _random_inputs(graph, 16, seed=7)
    result = run_on_qemu(out, "cortex-m0plus", inputs)
    np.testing.assert_array_equal(result.outputs[0], _reference(graph, inputs)[0])
    sizes = size_split(build_image(out, load_target("cortex-m0plus")))
    assert 0 < sizes.arena <= 16 * 1024 and sizes.weights > 0


def test_weights_section_in_elf(kws_qgraph: Graph, tmp_path: Path) -> None:
    target = load_target("cortex-m4")
    report = generate(kws_qgraph, tmp_path / "src", name="kws", target=target, weights_section=".kws_weights")
    image = build_image(tmp_path / "src", target)
    headers = subprocess.run(["arm-none-eabi-readelf", "-S", "-W", str(image.elf)], capture_output=True, text=True)
    line = next(row for row in headers.stdout.splitlines() if ".kws_weights" in row)
    size = int(line.split("]", 1)[1].split()[4], 16)
    assert size >= report["weight_bytes"]
    symbols = subprocess.run(["arm-none-eabi-objdump", "-t", str(image.elf)], capture_output=True, text=True).stdout
    weight_symbols = [row for row in symbols.splitlines() if " .kws_weights\t" in row]
    assert len(weight_symbols) >= 9  # one or more arrays per layer, all in the named section
    sizes = size_split(image)
    assert sizes.weights == size and sizes.arena == report["arena_bytes"] and sizes.code > 1000


def test_model_failure_is_an_error(kws_qgraph: Graph, tmp_path: Path) -> None:
    target = load_target("cortex-m7")
    generate(kws_qgraph, tmp_path / "src", name="kws", target=target)
    with pytest.raises(QCompileError, match="int8"):
        run_on_qemu(tmp_path / "src", target, [np.zeros((1, 490), dtype=np.float32)])
    with pytest.raises(QCompileError, match="whole number"):
        run_on_qemu(tmp_path / "src", target, [np.zeros((1, 7), dtype=np.int8)])


def test_missing_tools_name_the_package(kws_qgraph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qcompile.tools.firmware.build as fw_build

    target = load_target("cortex-m7")
    generate(kws_qgraph, tmp_path / "src", name="kws", target=target)
    monkeypatch.setattr(fw_build.shutil, "which", lambda name: None)
    with pytest.raises(QCompileError, match="gcc-arm-none-eabi"):
        build_image(tmp_path / "src", target, build_dir=tmp_path / "b")
    with pytest.raises(QCompileError, match="apt-get install qemu-system-arm"):
        fw_build.require_tool("qemu-system-arm")
    with pytest.raises(QCompileError, match="no QEMU machine"):
        build_image(tmp_path / "src", load_target("host"))
