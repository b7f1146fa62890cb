"""Wall time of the mixed precision search (``--accuracy-target``) and what it decides.

    python3 bench/bench_mixed_precision.py [--tasks kws resnet8-random] [--exhaustive] [--search-only]

The tasks and targets are bench_quant.py's ``--precision`` ones (KWS at 33 dB on the first
200 samples of ``kws_mfcc_dev500.npz``; ResNet-8 at 25 dB on 200 uniform random images,
seed 0). For each: the whole ``qcompile.compile`` with ``accuracy_target`` (import,
calibration, search, code generation, report; unless ``--search-only``), and the search
alone (``quant.mixed_precision.search`` after calibration) with its evaluations, the nodes
it computed and the nodes the :class:`~qcompile.reference.node_cache.NodeCache` gave back.
``--exhaustive`` also runs the search with ``reuse=False`` (every candidate graph run in
full) in the same process and checks that both promote the same tensors with the same
scores. Wall-clock seconds on a shared machine: compare figures of one run only. The
figures of an older qcompile: ``PYTHONPATH=<its checkout>/toolchain python3
bench/bench_mixed_precision.py --search-only`` (the bench only needs ``search``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from bench_quant import PRECISION_TARGETS, TASKS, Task, _input_name  # noqa: E402

import qcompile  # noqa: E402
from qcompile.quant.mixed_precision import SearchResult  # noqa: E402

DEFAULT_TASKS = ["kws", "resnet8-random"]


def timed_search(task: Task, *, reuse: bool) -> tuple[float, SearchResult]:
    """(seconds, result) of the search alone on ``task`` (import and calibration not timed)."""
    from qcompile.compiler import import_model
    from qcompile.quant.calibration import calibrate, load_calibration_data
    from qcompile.quant.mixed_precision import parse_accuracy_target, search
    from qcompile.quant.quantize import QuantConfig

    graph = import_model(task.onnx)
    data = load_calibration_data({_input_name(task.onnx): task.calib}, graph)
    ranges = calibrate(task.onnx, graph, data, progress=False)
    target = parse_accuracy_target(PRECISION_TARGETS[task.name])
    start = time.perf_counter()
    # without ``reuse`` the call also runs an older qcompile (PYTHONPATH=<old checkout>/toolchain)
    result = search(graph, ranges, data, QuantConfig(), target, **({} if reuse else {"reuse": False}))
    return time.perf_counter() - start, result


def timed_compile(task: Task, work: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    model = qcompile.compile(
        task.onnx,
        work / task.name,
        calib={_input_name(task.onnx): task.calib},
        accuracy_target=PRECISION_TARGETS[task.name],
        force=True,
        progress=False,
    )
    return time.perf_counter() - start, model.report


def rows(name: str, exhaustive: bool, search_only: bool, work: Path) -> list[list[str]]:
    task = TASKS[name]()
    seconds, fast = timed_search(task, reuse=True)
    promoted = f"{len(fast.promoted_tensors)} of {len(fast.sensitivity)}"
    figures = f"{fast.int8_score:.2f} -> {fast.score:.2f} (all int16 {fast.int16_score:.2f})"
    nodes = f"{getattr(fast, 'nodes_run', '?')} nodes run, {getattr(fast, 'nodes_reused', '?')} reused"
    out = [[name, f"{PRECISION_TARGETS[name]:g} dB", "search (NodeCache)", f"{seconds:.1f}", promoted, figures]]
    out[-1].append(f"{fast.evaluations} evaluations; {nodes}")
    if exhaustive:
        seconds, full = timed_search(task, reuse=False)
        same = (full.promoted_tensors, full.score, full.sensitivity) == (
            fast.promoted_tensors,
            fast.score,
            fast.sensitivity,
        )
        out.append(["", "", "search, every graph in full", f"{seconds:.1f}", promoted, figures])
        out[-1].append("same decisions" if same else "DIFFERENT decisions")
    if not search_only:
        seconds, report = timed_compile(task, work)
        mixed = report["mixed_precision"]
        layers = f"{len(mixed['layers'])} of {len(report['layers'])} layers"
        out.append(["", "", "whole compile", f"{seconds:.1f}", layers, f"achieved {mixed['achieved']}", ""])
    return out


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=DEFAULT_TASKS)
    parser.add_argument("--exhaustive", action="store_true", help="also run every candidate graph in full")
    parser.add_argument("--search-only", action="store_true", help="skip the whole compile")
    args = parser.parse_args()
    table = Table(title="mixed precision search: wall seconds and decisions (200 calibration samples)")
    for col in ("task", "target", "what", "seconds", "promoted", "SQNR dB int8 -> mixed", "notes"):
        table.add_column(col)
    with tempfile.TemporaryDirectory(prefix="bench_mixed_") as tmp:
        for name in args.tasks:
            for row in rows(name, args.exhaustive, args.search_only, Path(tmp)):
                table.add_row(*row)
            table.add_section()
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
