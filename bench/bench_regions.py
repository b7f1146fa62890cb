"""Memory regions (--memory-regions): what the hottest-first assignment buys, in modelled
memory-access cycles, against two baselines measured in the same run.

QEMU has no wait states, so every region runs at the same speed there: the figure here is a
model. Per inference, cycles = sum over the arena's activations and scratch buffers of the
bytes each is read and written (qcompile.ops.traffic.access_bytes, the count the planner
ranks by) times its region's access cycles. For each model (MLPerf Tiny DS-CNN and ResNet-8
int8 .tflite from ../shared, cortex-m7) and the regions below, it prints:

- ours: the plan --memory-regions makes (hottest buffers in the fastest region that fits);
- schedule order: the same regions filled in the order buffers are first used (what a
  placement that ignores traffic does);
- all in SRAM: no DTCM at all;

and the ratios ours / baseline (lower is better). Every build is checked bit-exact on the
host against the numpy reference.

Run: python3 bench/bench_regions.py [--dtcm BYTES]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from qcompile.compiler import CompileOptions, compile_model
from qcompile.memory import regions as regions_module
from qcompile.tools.verify import verify

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "models"
MODELS = {"dscnn": SHARED / "mlperf_kws_dscnn_int8.tflite", "resnet8": SHARED / "mlperf_ic_resnet8_int8.tflite"}


def _regions(dtcm: int) -> dict[str, Any]:
    return {"dtcm": {"size": dtcm, "cycles": 1}, "sram": {"size": 512 * 1024, "cycles": 3}}


def modelled_cycles(report: dict[str, Any]) -> int:
    """Access cycles per inference: each region's traffic (report.json) x its access cycles."""
    return int(sum(r["traffic_bytes"] * r["speed"] for r in report["memory_regions"]))


@contextmanager
def schedule_order():
    """Assign buffers in order of first use instead of traffic (the baseline) inside the block."""
    real = regions_module.rank_key
    regions_module.rank_key = lambda unit, traffic: (min(b.first for b in unit), unit[0].key)
    try:
        yield
    finally:
        regions_module.rank_key = real


def _compile(model: Path, out: Path, regions: dict[str, Any]) -> dict[str, Any]:
    options = CompileOptions(target="cortex-m7", name="m", progress=False, memory_regions=regions)
    report = compile_model(model, out, options)
    result = verify(out, limit=4, float_model=False)
    if not result.ok:
        sys.exit(f"{out}: not bit-exact")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtcm", type=int, default=8192, help="DTCM bytes (default 8192)")
    args = parser.parse_args()
    table = Table(title=f"modelled access cycles per inference, DTCM {args.dtcm:,} B x1, SRAM x3")
    for col in ("model", "ours", "schedule order", "all in SRAM", "ours / schedule order", "ours / all SRAM"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in MODELS.items():
            ours = modelled_cycles(_compile(model, Path(tmp) / f"{name}-ours", _regions(args.dtcm)))
            with schedule_order():
                first = modelled_cycles(_compile(model, Path(tmp) / f"{name}-order", _regions(args.dtcm)))
            sram = {"sram": _regions(args.dtcm)["sram"]}
            slow = modelled_cycles(_compile(model, Path(tmp) / f"{name}-sram", sram))
            table.add_row(name, f"{ours:,}", f"{first:,}", f"{slow:,}", f"{ours / first:.2f}", f"{ours / slow:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
