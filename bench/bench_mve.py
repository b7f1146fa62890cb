"""Instruction counts of the Helium (mve) kernel family beside dsp and portable on QEMU Cortex-M55.

Compiles the MLPerf Tiny ResNet-8 and DS-CNN once (bench_qemu's calibration), then
``qcompile bench``'s machinery regenerates the quantized graph for each kernel family,
builds it for the cortex-m55 target and runs it on ``mps3-an547`` under ``-icount
shift=0`` with per-layer SysTick counts (deterministic, independent of machine load),
checking every family bit-exact against the numpy reference. Prints per-layer executed
instructions, the mve/dsp ratio, MACs per instruction of the mve kernels, and the totals
against CMSIS-NN's Helium kernels on the same machine (../shared/ANCHORS.md section 6).

    python3 bench/bench_mve.py [--models resnet8,kws,mobilenet] [--family portable --family dsp --family mve] [-n 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import qcompile.codegen  # noqa: F401  (imports the code generator before targets: see the report)
from qcompile.targets import load_target
from qcompile.tools.firmware.bench import bench, default_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_qemu import _compile  # noqa: E402

# TFLM + CMSIS-NN (Helium kernels) on the same QEMU mps3-an547, executed instructions per inference
CMSIS_NN_HELIUM = {"resnet8": 4_910_000, "kws": 1_810_000, "mobilenet": 6_550_000}  # mobilenet: MLPerf VWW


def _row(label: str, op: str, macs: int, counts: list[int | None], families: list[str]) -> str:
    cells = "".join(f"{c:>12,}" if c is not None else f"{'-':>12}" for c in counts)
    by = dict(zip(families, counts, strict=True))
    mve, dsp = by.get("mve"), by.get("dsp")
    ratio = f"{mve / dsp:>8.2f}" if mve and dsp else f"{'-':>8}"
    mpi = f"{macs / mve:>9.2f}" if mve and macs else f"{'-':>9}"
    return f"{label:>3} {op:17} {macs:>11,}{cells}{ratio}{mpi}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet8,kws")
    parser.add_argument("--family", action="append", dest="families")
    parser.add_argument("-n", type=int, default=1, help="random inputs per family (median)")
    args = parser.parse_args()
    target = load_target("cortex-m55")
    families = args.families or default_families(target)
    with tempfile.TemporaryDirectory(prefix="bench-mve-") as tmp:
        for model in args.models.split(","):
            result = bench(_compile(model, Path(tmp)), target, families=families, samples=args.n)
            print(f"\n{model} on cortex-m55 (QEMU mps3-an547): executed instructions per inference")
            head = "".join(f"{f:>12}" for f in families)
            print(f"{'#':>3} {'op':17} {'MACs':>11}{head}{'mve/dsp':>8}{'MAC/ins':>9}")
            rows = result.rows()
            for i, row in enumerate(rows):
                op = next((o for o in row.ops if o), "?")
                print(_row(str(i), op, row.macs, row.counts, families))
            totals: list[int | None] = [f.total_instructions for f in result.families]
            print(_row("", "total", sum(r.macs for r in rows), totals, families))
            for f in result.families:
                anchor = CMSIS_NN_HELIUM[model]
                print(
                    f"{f.family}: bit-exact {f.bit_exact}/{f.samples}, {f.total_instructions / 1e6:.2f} M instructions "
                    f"({f.total_instructions / anchor:.2f}x CMSIS-NN Helium's {anchor / 1e6:.2f} M)"
                )


if __name__ == "__main__":
    main()
