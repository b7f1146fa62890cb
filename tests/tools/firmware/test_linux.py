"""Cortex-A runner: a generated folder cross-built into a Linux program and run under
qemu-aarch64 with the counting plugin; outputs bit-exact with the reference, counts exact
and deterministic, per-layer counts consistent with the total."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.outdir import ModelFolder
from qcompile.reference.executor import run_quantized_samples
from qcompile.targets import load_target
from qcompile.tools.firmware import run_on_qemu
from qcompile.tools.firmware.bench import bench
from qcompile.tools.firmware.linux import build_linux_program, linux_size_split, run_linux_program
from qcompile.tools.firmware.verify_qemu import verify_on_qemu

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "examples" / "digits"


@pytest.fixture(scope="module")
def digits_a53(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("linux") / "digits"
    options = CompileOptions(calib=DIGITS / "calib.npz", target="cortex-a53", progress=False)
    compile_model(DIGITS / "digits_cnn.onnx", out, options)
    return out


@pytest.mark.parametrize("target", ["cortex-a53", "cortex-a76"])
def test_verify_on_qemu_aarch64(digits_a53: Path, target: str) -> None:
    checked = verify_on_qemu(digits_a53, load_target(target), limit=8)
    assert checked.result.ok and checked.result.samples == 8
    assert np.all(checked.run.total_instructions > 10_000)
    assert checked.sizes.weights > 0 and checked.sizes.code > 0 and checked.sizes.arena > 0


def test_counts_are_deterministic_and_add_up(digits_a53: Path) -> None:
    graph = ModelFolder.open(digits_a53).graph
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(3, *graph.tensors[graph.inputs[0]].shape[1:]), dtype=np.int8)
    x = np.concatenate([x, x[:1]])  # the last sample repeats the first
    target = load_target("cortex-a53")
    run = run_on_qemu(digits_a53, target, x, layer_counts=True)
    expected = np.stack([outs[0] for outs in run_quantized_samples(graph, [x])])
    assert np.array_equal(run.outputs[0], expected)
    assert run.total_instructions[0] == run.total_instructions[3]
    assert np.array_equal(run.layer_instructions[0], run.layer_instructions[3])
    layers = run.layer_instructions.sum(axis=1)
    assert np.all(layers < run.total_instructions) and np.all(layers > 0.9 * run.total_instructions)
    again = run_on_qemu(digits_a53, target, x[:1], layer_counts=True)
    assert again.total_instructions[0] == run.total_instructions[0]


def test_bench_reports_families(digits_a53: Path) -> None:
    result = bench(digits_a53, load_target("cortex-a53"), families=["portable", "neon"])
    assert [f.family for f in result.families] == ["portable", "neon"]
    assert all(f.bit_exact == f.samples == 1 for f in result.families)
    assert len(result.families[1].layer_instructions) == len(result.families[1].layers)


def test_wrong_sample_size_is_refused(digits_a53: Path) -> None:
    program = build_linux_program(digits_a53, load_target("cortex-a53"))
    with pytest.raises(QCompileError, match="whole number"):
        run_linux_program(program, np.zeros(program.input_sizes[0] + 1, dtype=np.int8))
    assert linux_size_split(program).weights > 0
