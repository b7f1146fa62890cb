"""RAM below the layer-by-layer bound: per model, the layer-by-layer build against the
overlapped/streamed one chosen by --ram-budget, with TFLite Micro's arena for the same model.

For each model (MLPerf Tiny DS-CNN and ResNet-8 from ../shared, and our MobileNetV1-0.25
96x96 stand-in from bench/models), compiled for cortex-m7 with --io-in-arena (so the arena is
all the RAM: inputs and outputs inside, no static state), this prints:

- RAM of the layer-by-layer build and of the build under the issue's budget (DS-CNN 10,922 B,
  ResNet-8 25,192 B, MobileNet 0.40x TFLM's arena), and the ratio to TFLM's arena (measured
  here for MobileNet with the tflite-micro package on the same .tflite; the MLPerf figures are
  the ones measured on a 64-bit host in issue #4, models from their int8 .tflite);
- executed instructions per inference of both builds under QEMU (mps2-an500, -icount,
  deterministic), their ratio (target at most 1.15x), and bit-exactness against the
  numpy reference on random inputs.

``--target`` picks the core (default cortex-m7; cortex-m55: Helium kernels on mps3-an547,
cortex-a76: NEON under qemu-aarch64, cortex-m0plus: portable kernels, whose QEMU machine (the
micro:bit, 16 KiB of RAM) cannot hold these models, so its instructions are not measured).
Instructions are always against the unconstrained build of the same family. When a family
cannot meet the issue's budget, the row shows the smallest arena it reaches ("budget not met").

Run: python3 bench/bench_memory.py [-n 3] [--models dscnn,resnet8,mobilenet] [--target cortex-m55]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import QCompileError
from qcompile.outdir import ModelFolder
from qcompile.reference.executor import run_quantized
from qcompile.targets import load_target
from qcompile.tools.firmware.qemu import run_on_qemu

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
MOBILENET = HERE / "models" / "mobilenet_v1_025_96.tflite"
TFLM = {"dscnn": 24_272, "resnet8": 55_984}  # issue #4, 64-bit host, includes input and output
BUDGET = {"dscnn": 10_922, "resnet8": 25_192}


def _tflm_arena(model: str) -> int:
    if model in TFLM:
        return TFLM[model]
    from qcompile.tools.compare import tflm_recorded_arena

    return tflm_recorded_arena(MOBILENET.read_bytes())


def _source(model: str, work: Path) -> tuple[Path, Path | None]:
    if model == "mobilenet":
        if not MOBILENET.exists():
            sys.path.insert(0, str(MOBILENET.parent))
            from make_mobilenet_v1_025 import OUT, build

            OUT.write_bytes(build())
        return MOBILENET, None
    if model == "dscnn":
        with np.load(SHARED / "data/kws_mfcc_dev500.npz") as d:
            x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
        np.savez(work / "kws.npz", input_1=x.reshape(-1, 1, 49, 10)[:200])
        return SHARED / "models/mlperf_kws_dscnn.onnx", work / "kws.npz"
    rng = np.random.default_rng(1)
    np.savez(work / "r8.npz", input_1=rng.uniform(0, 255, size=(100, 1, 3, 32, 32)).astype(np.float32))
    return SHARED / "models/mlperf_ic_resnet8.onnx", work / "r8.npz"


def _measure(out: Path, target, samples: int) -> tuple[int, bool]:
    """(median instructions per inference, bit-exact on every sample) under QEMU."""
    graph = ModelFolder.open(out).graph
    rng = np.random.default_rng(0)
    xs = [rng.integers(-128, 128, size=(samples, *graph.tensors[n].shape), dtype=np.int8) for n in graph.inputs]
    run = run_on_qemu(out, target, [x.reshape(samples, -1) for x in xs], build_dir=out.parent / f"{out.name}-build")
    exact = True
    for s in range(samples):
        ref = run_quantized(graph, [x[s] for x in xs])
        for j, name in enumerate(graph.outputs):
            exact &= bool(np.array_equal(run.outputs[j][s].reshape(-1), ref[name].reshape(-1)))
    return int(np.median(run.total_instructions)), exact


def _build(src: Path, calib: Path | None, out: Path, model: str, target: str, budget: int | None) -> dict:
    """Compile with --io-in-arena and the budget; a budget the family cannot meet falls back to
    the smallest arena it reaches (the layer-by-layer build's ``below_bound``), marked."""
    options = CompileOptions(calib=calib, name=model, progress=False, target=target, io_in_arena=True,
                             ram_budget=budget)  # fmt: skip
    try:
        return compile_model(src, out, options)
    except QCompileError:
        plain = compile_model(src, out, replace(options, ram_budget=None))
        floor = plain["below_bound"]["available_arena_bytes"] or plain["arena_bytes"]
        report = compile_model(src, out, replace(options, ram_budget=floor))
        report["budget_not_met"] = True
        return report


def _measurable(target) -> bool:
    """Whether the target's QEMU machine can run these models (the micro:bit has 16 KiB of RAM)."""
    return target.qemu is not None and (target.qemu.user or target.qemu.ram[1] >= 128 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dscnn,resnet8,mobilenet")
    parser.add_argument("-n", type=int, default=2, help="random inputs per build")
    parser.add_argument("--target", default="cortex-m7")
    args = parser.parse_args()
    target = load_target(args.target)
    family = target.family.name
    table = Table(title=f"{args.target} ({family}), --io-in-arena: RAM (all of it) and instructions per inference")
    for col in ("model", "TFLM arena", "layer-by-layer", "budget", "below bound", "vs TFLM", "instr. ratio", "exact"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        for model in args.models.split(","):
            src, calib = _source(model, work)
            tflm = _tflm_arena(model)
            budget = BUDGET.get(model, int(0.40 * tflm))
            builds = {}
            for label, ram_budget in (("plain", None), ("below", budget)):
                report = _build(src, calib, work / f"{model}-{label}", model, args.target, ram_budget)
                instructions, exact = (
                    _measure(work / f"{model}-{label}", target, args.n) if _measurable(target) else (0, None)
                )
                builds[label] = (report["ram"]["total_bytes"], instructions, exact, report.get("budget_not_met"))
            (ram0, ins0, ok0, _), (ram1, ins1, ok1, missed) = builds["plain"], builds["below"]
            table.add_row(
                model,
                f"{tflm:,}",
                f"{ram0:,} B, {ins0:,} instr." if ins0 else f"{ram0:,} B",
                f"{budget:,}" + (" (budget not met)" if missed else ""),
                f"{ram1:,} B, {ins1:,} instr." if ins1 else f"{ram1:,} B",
                f"{ram1 / tflm:.3f}x",
                f"{ins1 / ins0:.3f}x" if ins0 else "n/a (no QEMU machine with the RAM)",
                "n/a" if ok0 is None else ("yes" if ok0 and ok1 else "NO"),
            )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
