"""Host benchmark: latency of qcompile's generated C against TFLite Micro and LiteRT.

All figures come from one run on one machine, so ratios are meaningful even where the
absolute numbers are not. Prints two tables:

1. per-inference latency (median of repeated batches) for ResNet-8 and DS-CNN:
   qcompile's generated C (host build through the Cython binding, the batch loop in C),
   the tflite-micro interpreter and ai-edge-litert (default kernels, one thread) on the
   MLPerf int8 .tflite files; the generated C is also checked bit-exact on the timed inputs;
2. compile time of ResNet-8 and DS-CNN with 200 calibration samples.

Peer cells read `ms (ratio)`, ratio = peer latency / qcompile latency (> 1: qcompile faster).

Run: python3 bench/bench_host.py [--runs 50] [--cflags "-O3 -march=native"]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = {
    "resnet8": ("mlperf_ic_resnet8.onnx", "mlperf_ic_resnet8_int8.tflite", (3, 32, 32)),
    "dscnn": ("mlperf_kws_dscnn.onnx", "mlperf_kws_dscnn_int8.tflite", (1, 49, 10)),
}


def calibration_data(model: str, n: int) -> np.ndarray:
    """Float calibration inputs (source layout): KWS samples for DS-CNN, seeded random pixels for ResNet-8.

    bench_kernels.py uses the same data so its layers get the same parameters.
    """
    if model == "dscnn":
        with np.load(SHARED / "data" / "kws_mfcc_dev500.npz") as d:
            x = (d["x"][:n].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
            return x.reshape(-1, 1, 49, 10)
    return np.random.default_rng(0).uniform(0, 255, size=(n, 3, 32, 32)).astype(np.float32)


def compile_and_time(model: str, work: Path, cflags: list[str], runs: int, batch: int) -> tuple[float, float, str]:
    """Returns (compile seconds, seconds per inference, bit-exact string)."""
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.host._runtime import ModelLibrary
    from qcompile.host.build import build_host_library
    from qcompile.outdir import ModelFolder, to_physical
    from qcompile.reference.executor import run_quantized

    onnx_name, _, _ = MODELS[model]
    calib = calibration_data(model, 200)
    np.savez(work / f"{model}_calib.npz", input_1=calib)
    t0 = time.perf_counter()
    compile_model(
        SHARED / "models" / onnx_name,
        work / model,
        CompileOptions(calib=work / f"{model}_calib.npz", name=model, progress=False),
    )
    compile_s = time.perf_counter() - t0

    folder = ModelFolder.open(work / model)
    graph, meta = folder.graph, folder.meta
    lib = build_host_library(work / model, name=meta["c_name"], build_dir=work / f"{model}_build", extra_flags=cflags)
    t_in = graph.tensors[graph.inputs[0]]
    t_out = graph.tensors[graph.outputs[0]]
    q = np.ascontiguousarray(t_in.quant.quantize(to_physical(t_in, calib[:batch]))).reshape(batch, -1)
    library = ModelLibrary(str(lib), meta["c_name"], [t_in.size], [t_out.size], 0)
    library.run([q])  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        outs = library.run([q])
        times.append((time.perf_counter() - t0) / batch)
    exact = sum(
        np.array_equal(run_quantized(graph, [q[i].reshape(t_in.shape)])[t_out.name].reshape(-1), outs[0][i].reshape(-1))
        for i in range(min(batch, 20))
    )
    return compile_s, statistics.median(times), f"{exact}/{min(batch, 20)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--cflags", default="-O3 -march=native")
    parser.add_argument("--peer-runs", type=int, default=200)
    args = parser.parse_args()
    console = Console()
    cflags = shlex.split(args.cflags)

    try:
        from peers import peer_latencies

        peers = peer_latencies(args.peer_runs)
    except Exception as exc:  # peers are optional extras; say why they are missing
        console.print(f"[yellow]peer runtimes unavailable: {exc}[/yellow]")
        peers = {}

    results = {}
    with tempfile.TemporaryDirectory(prefix="qcompile-bench-") as tmp:
        for model in MODELS:
            results[model] = compile_and_time(model, Path(tmp), cflags, args.runs, args.batch)

    table = Table(title=f"host latency per inference (ms, median), one thread; qcompile cflags: {args.cflags}")
    peer_columns = (("tflm", "TFLM interp."), ("litert-builtin", "LiteRT builtin"), ("litert", "LiteRT+XNNPACK"))
    for col in ("model", "qcompile C", "bit-exact", *(label for _, label in peer_columns)):
        table.add_column(col, justify="right")
    for model, (_, per_inf, exact) in results.items():
        cells = []
        for key, _ in peer_columns:
            peer = peers.get(model, {}).get(key)
            # ratio > 1: qcompile is that many times faster than the peer
            cells.append("-" if peer is None else f"{peer * 1e3:.3f} ({peer / per_inf:.2f}x)")
        table.add_row(model, f"{per_inf * 1e3:.3f}", exact, *cells)
    console.print(table)
    compile_table = Table(title="compile time (import, 200-sample calibration, quantize, codegen)")
    compile_table.add_column("model")
    compile_table.add_column("seconds", justify="right")
    for model, (compile_s, _, _) in results.items():
        compile_table.add_row(model, f"{compile_s:.2f}")
    console.print(compile_table)


if __name__ == "__main__":
    main()
