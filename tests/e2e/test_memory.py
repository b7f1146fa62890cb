"""RAM of the MLPerf Tiny models with the memory passes (residual fusion + in-place
outputs + memory-aware schedule): compiled, bit-exact against the reference, and the
arena sizes reached are asserted so a regression fails.

TFLM's arenas on a 64-bit host (issue #4): ResNet-8 55,984 B, DS-CNN 24,272 B.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcompile.codegen import generate
from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.ir_io import save_graph
from qcompile.outdir import ModelFolder
from qcompile.targets import load_target
from qcompile.tools.verify import verify

TFLM_RESNET8 = 55_984
TFLM_DSCNN = 24_272
RESNET8_REACHED = 32_768  # 0.585x TFLM: the planner's lower bound (without the passes: 50,304)
DSCNN_REACHED = 16_512  # 0.680x TFLM (a chain: the passes find nothing to fuse or reorder)


# Portable kernels with RAM as the goal (the microcontroller default); the host target
# optimises for speed and only trades it for RAM under --ram-budget (tested below).
RAM_TARGET = "cortex-m0plus"


def _compile(
    tmp: Path,
    model: Path,
    calib: np.ndarray,
    memory_passes: bool,
    *,
    target: str = RAM_TARGET,
    ram_budget: int | None = None,
    out: str = "out",
) -> dict:
    np.savez(tmp / "calib.npz", input_1=calib)
    options = CompileOptions(
        calib=tmp / "calib.npz",
        name="m",
        progress=False,
        memory_passes=memory_passes,
        target=target,
        ram_budget=ram_budget,
    )
    return compile_model(model, tmp / out, options)


@pytest.fixture(scope="module")
def resnet8(tmp_path_factory: pytest.TempPathFactory, resnet8_onnx: Path) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("r8mem")
    calib = np.random.default_rng(1).uniform(0, 255, size=(50, 1, 3, 32, 32)).astype(np.float32)
    return tmp / "out", _compile(tmp, resnet8_onnx, calib, True)


def test_resnet8_fused_in_place_and_bit_exact(resnet8: tuple[Path, dict], tmp_path: Path) -> None:
    out, report = resnet8
    fused = [layer for layer in report["layers"] if layer["op"] == "conv2d_add"]
    assert len(fused) == 3 and all(layer["fused"] == ["conv2d", "add"] and layer["inplace_over"] for layer in fused)
    assert not [layer for layer in report["layers"] if layer["op"] == "add"]
    data = np.random.default_rng(2).uniform(0, 255, size=(40, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "x.npz", input_1=data)
    result = verify(out, data=tmp_path / "x.npz")
    assert result.bit_exact == result.samples == 40, result.mismatched_samples[:10]


def test_resnet8_arena(resnet8: tuple[Path, dict], tmp_path: Path, resnet8_onnx: Path) -> None:
    _, report = resnet8
    assert report["arena_bytes"] <= RESNET8_REACHED, report["arena_bytes"]
    calib = np.random.default_rng(1).uniform(0, 255, size=(8, 1, 3, 32, 32)).astype(np.float32)
    baseline = _compile(tmp_path, resnet8_onnx, calib, False)
    assert baseline["arena_bytes"] >= report["arena_bytes"] + 15_000


def test_resnet8_issue_target(resnet8: tuple[Path, dict]) -> None:
    """Issue #4: <= 0.60x TFLM. Reached by the row bands (conv scratch in the unwritten
    output rows / the consumed input rows): the arena is the planner's lower bound, the
    two 32x32x16 tensors of the first residual block, and the bands are bit-exact above."""
    report = resnet8[1]
    assert report["arena_bytes"] <= int(0.60 * TFLM_RESNET8)
    assert report["arena_bytes"] == report["lower_bound_bytes"] == 2 * 32 * 32 * 16
    banded = [layer for layer in report["layers"] if "row_band" in layer]
    assert banded and all(0 <= b <= e <= layer["output"][1] for layer in banded for b, e in [layer["row_band"]])
    # only a few rows run without the fast kernel (the speed cost stays small)
    direct = sum(layer["output"][1] - (layer["row_band"][1] - layer["row_band"][0]) for layer in banded)
    assert direct <= 12, [layer["row_band"] for layer in banded]


def test_host_target_prefers_speed_unless_budgeted(tmp_path: Path, resnet8_onnx: Path) -> None:
    """The host target keeps every conv at full speed (no row bands) by default; a RAM
    budget at the issue #4 target brings back the lean plan, still bit-exact."""
    calib = np.random.default_rng(1).uniform(0, 255, size=(8, 1, 3, 32, 32)).astype(np.float32)
    fast = _compile(tmp_path, resnet8_onnx, calib, True, target="host", out="fast")
    assert not [layer for layer in fast["layers"] if "row_band" in layer]
    assert fast["arena_bytes"] > RESNET8_REACHED
    budget = int(0.60 * TFLM_RESNET8)
    lean = _compile(tmp_path, resnet8_onnx, calib, True, target="host", ram_budget=budget, out="lean")
    assert lean["arena_bytes"] <= budget
    assert [layer for layer in lean["layers"] if "row_band" in layer]
    np.savez(
        tmp_path / "x.npz", input_1=np.random.default_rng(3).uniform(0, 255, size=(10, 3, 32, 32)).astype(np.float32)
    )
    result = verify(tmp_path / "lean", data=tmp_path / "x.npz")
    assert result.bit_exact == result.samples == 10


def test_dscnn_arena_and_bit_exact(tmp_path: Path, kws_onnx: Path, kws_data: Path) -> None:
    with np.load(kws_data) as d:
        x = ((d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])).reshape(-1, 1, 49, 10)
    report = _compile(tmp_path, kws_onnx, x[:50], True)
    # a chain: 2 x 8,000 B + the largest conv scratch; the 0.70x budget leaves 478 B of
    # scratch growth (a conv kernel asking for more scratch fails here)
    assert report["arena_bytes"] <= int(0.70 * TFLM_DSCNN), report["arena_bytes"]
    np.savez(tmp_path / "x.npz", input_1=x[50:90])
    result = verify(tmp_path / "out", data=tmp_path / "x.npz")
    assert result.bit_exact == result.samples == 40


def test_resnet8_ram_budget(resnet8: tuple[Path, dict], tmp_path: Path) -> None:
    """--ram-budget: too small (below what streaming reaches) is an error naming the peak layer and its live tensors
    (nothing written); a roomy budget buys full speed (no row bands) within it."""
    out, report = resnet8
    graph = ModelFolder.open(out).graph
    with pytest.raises(QCompileError) as err:
        generate(graph, tmp_path / "small", name="m", target=load_target("host"), ram_budget=20_000)
    message = str(err.value)
    # the host streams conv pairs below the layer-by-layer bound (32,768 B): the error gives the
    # smallest plan it found and names its peak layer
    need = int(re.search(r"needs ([\d,]+) B", message).group(1).replace(",", ""))
    assert 20_000 < need < report["arena_bytes"] and "20,000 B" in message
    assert re.search(r"the peak is at layer \d+ \(\w+ '", message), message
    assert not (tmp_path / "small").exists()
    roomy = generate(graph, tmp_path / "roomy", name="m", target=load_target("host"), ram_budget=40_000)
    assert not [layer for layer in roomy["layers"] if "row_band" in layer]
    assert report["arena_bytes"] < roomy["arena_bytes"] <= 40_000
    tight = generate(graph, tmp_path / "tight", name="m", target=load_target("host"), ram_budget=33_590)
    assert tight["arena_bytes"] <= 33_590

    def direct(r: dict) -> int:
        return sum(la["output"][1] - la["row_band"][1] + la["row_band"][0] for la in r["layers"] if "row_band" in la)

    assert direct(tight) < direct(report)  # the slack up to the budget goes to fast rows
    np.savez(tmp_path / "x.npz", input_1=np.random.default_rng(3).uniform(0, 255, size=(10, 3, 32, 32)))
    save_graph(graph, tmp_path / "tight" / "model.qir", meta=_meta(out))
    result = verify(tmp_path / "tight", data=tmp_path / "x.npz")
    assert result.bit_exact == result.samples == 10


def _meta(out: Path) -> dict:
    return ModelFolder.open(out).meta


def test_ram_budget_cli(tmp_path: Path) -> None:
    """The CLI option: a failing budget exits 1 with the peak layer, writes nothing; a
    passing one prints the arena, its lower bound, the peak layer and the budget."""
    example = Path(__file__).resolve().parents[2] / "examples" / "digits"
    args = [str(example / "digits_cnn.onnx"), "--calib", str(example / "calib.npz"), "--no-progress", "-o"]

    def run(*extra: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "qcompile", "compile", *args, *extra]
        return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"})

    bad = run(str(tmp_path / "bad"), "--ram-budget", "64")
    assert bad.returncode == 1, bad.stderr
    assert "RAM budget exceeded" in bad.stderr and "the peak is at layer" in bad.stderr
    assert not (tmp_path / "bad").exists()
    good = run(str(tmp_path / "good"), "--ram-budget", "100000")
    assert good.returncode == 0, good.stderr
    assert "lower bound" in good.stdout and "peak layer" in good.stdout and "RAM budget" in good.stdout
