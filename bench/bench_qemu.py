"""Executed instructions of the MLPerf Tiny models on Cortex-M and Cortex-A cores under QEMU,
per layer, kernel families side by side.

Counts come from QEMU with -icount shift=0 (one virtual ns per instruction) and SysTick
reads around each layer: deterministic, independent of host load (unlike wall-clock
timings on a shared machine), resolution one SysTick tick (40 instructions at 25 MHz).
Ratios are against the first family measured in the same run; the CMSIS-NN column is the
issue's reference figure for TFLM + CMSIS-NN on the same QEMU machine. Cortex-A targets
(``--target cortex-a76``) run under qemu-aarch64 with qcompile's counting plugin (exact to
one instruction) and are compared with LiteRT + XNNPACK's count (../shared/ANCHORS.md, 6).

Run: python3 bench/bench_qemu.py [--target cortex-m7] [--family portable --family dsp] [-n 1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console

from qcompile.compiler import CompileOptions, compile_model
from qcompile.targets import load_target
from qcompile.tools.firmware.bench import bench, default_families, result_table

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
#: a MobileNetV1-0.25 96x96 person detector of our own (bench/models/make_mobilenet_v1_025.py)
MOBILENET = Path(__file__).resolve().parent / "models" / "mobilenet_v1_025_96.tflite"
# TFLM + CMSIS-NN instruction counts under QEMU quoted in issue #3 (cortex-m7)
CMSIS_NN_M7 = {"resnet8": 29_970_000}
# LiteRT 2.3 + XNNPACK under qemu-aarch64, one thread (../shared/ANCHORS.md, section 6)
XNNPACK = {("cortex-a76", "resnet8"): 1_500_000, ("cortex-a53", "resnet8"): 5_010_000}


def _compile(model: str, work: Path) -> Path:
    out = work / model
    if model == "mobilenet":  # our MobileNetV1-0.25 96x96 person detector (int8 TFLite, bench/models/)
        compile_model(MOBILENET, out, CompileOptions(name=model, progress=False))
    elif model == "resnet8":
        rng = np.random.default_rng(1)
        np.savez(work / "r8.npz", input_1=rng.uniform(0, 255, size=(100, 1, 3, 32, 32)).astype(np.float32))
        compile_model(
            SHARED / "models/mlperf_ic_resnet8.onnx",
            out,
            CompileOptions(calib=work / "r8.npz", name=model, progress=False),
        )
    else:
        with np.load(SHARED / "data/kws_mfcc_dev500.npz") as d:
            x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
        np.savez(work / "kws.npz", input_1=x.reshape(-1, 1, 49, 10)[:200])
        compile_model(
            SHARED / "models/mlperf_kws_dscnn.onnx",
            out,
            CompileOptions(calib=work / "kws.npz", name=model, progress=False),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="cortex-m7")
    parser.add_argument("--family", action="append", dest="families")
    parser.add_argument("--models", default="resnet8,kws")
    parser.add_argument("-n", type=int, default=1, help="random inputs per family (median)")
    args = parser.parse_args()
    target = load_target(args.target)
    families = args.families or default_families(target)
    console = Console(width=160)
    with tempfile.TemporaryDirectory(prefix="bench-qemu-") as tmp:
        for model in args.models.split(","):
            out = _compile(model, Path(tmp))
            result = bench(out, target, families=families, samples=args.n)
            assert target.qemu is not None
            table = result_table(result, f"{model} on {target.name} (QEMU {target.qemu.label}): executed instructions")
            console.print(table)
            for f in result.families:
                line = f"{f.family}: bit-exact {f.bit_exact}/{f.samples}, total {f.total_instructions:,} instructions"
                if target.name == "cortex-m7" and model in CMSIS_NN_M7:
                    line += (
                        f" ({f.total_instructions / CMSIS_NN_M7[model]:.2f}x TFLM+CMSIS-NN's {CMSIS_NN_M7[model]:,})"
                    )
                peer = XNNPACK.get((target.name, model))
                if peer:
                    line += f" ({f.total_instructions / peer:.2f}x LiteRT+XNNPACK's {peer:,})"
                console.print(line)


if __name__ == "__main__":
    main()
