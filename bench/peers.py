"""Host latency of the peer int8 runtimes on the MLPerf Tiny reference models.

Why: qcompile's generated C is compared against what people would otherwise run. On
the host the peers are the TFLite Micro interpreter (``tflite_micro``, reference
kernels: the same arithmetic we match bit for bit) and LiteRT (``ai_edge_litert``, the
desktop TFLite runtime with optimized kernels). This measures each on
``../shared/models/mlperf_ic_resnet8_int8.tflite`` and ``mlperf_kws_dscnn_int8.tflite``.

What is timed: one ``invoke()`` per sample, input already set (the same random int8
tensor every run), after warm-up runs; median (and min, p90) over ``n_runs``, one
thread. LiteRT is run twice: ``litert`` with its default op resolver (which applies the
XNNPACK delegate) and ``litert-builtin`` with TFLite's builtin kernels only; both with
``num_threads=1``.

Use from the command line (``python bench/peers.py --runs 200``) or import by path
(``bench/`` is not a package)::

    import importlib.util
    spec = importlib.util.spec_from_file_location("peers", "bench/peers.py")
    peers = importlib.util.module_from_spec(spec); spec.loader.exec_module(peers)
    medians = peers.peer_latencies(100)        # {"resnet8": {"tflm": 0.0121, ...}, ...} seconds
    stats = peers.peer_latency_stats(100)      # median/min/p90 in microseconds, or why not
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = REPO.parent / "shared" / "models"
# Keys match bench/bench_host.py's model names.
MODELS = {
    "resnet8": "mlperf_ic_resnet8_int8.tflite",
    "dscnn": "mlperf_kws_dscnn_int8.tflite",
}
RUNTIMES = ("tflm", "litert", "litert-builtin")


@contextlib.contextmanager
def _quiet_stderr():
    """LiteRT and TFLM print INFO lines on the C stderr (fd 2); keep the table clean."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _tflm_invoker(model_path: Path) -> Callable[[], None]:
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(model_path))
    details = interpreter.get_input_details(0)
    x = _random_input(tuple(int(d) for d in details["shape"]), np.dtype(details["dtype"]))
    interpreter.set_input(x, 0)
    return interpreter.invoke


def _litert_invoker(model_path: Path, builtin_only: bool) -> Callable[[], None]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # The default resolver (AUTO) applies the XNNPACK delegate; BUILTIN_WITHOUT_DEFAULT_DELEGATES
    # keeps TFLite's own optimized builtin kernels.
    extra = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if builtin_only else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = Interpreter(model_path=str(model_path), num_threads=1, **extra)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    x = _random_input(tuple(int(d) for d in detail["shape"]), np.dtype(detail["dtype"]))
    interpreter.set_tensor(detail["index"], x)
    return interpreter.invoke


def _random_input(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.random.default_rng(0).integers(info.min, info.max + 1, size=shape).astype(dtype)


def _time(invoke: Callable[[], None], n_runs: int, n_warmup: int) -> dict[str, float | int]:
    for _ in range(n_warmup):
        invoke()
    samples = []
    for _ in range(n_runs):
        t0 = time.perf_counter_ns()
        invoke()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    samples.sort()
    return {
        "median_us": statistics.median(samples),
        "min_us": samples[0],
        "p90_us": samples[min(len(samples) - 1, int(0.9 * len(samples)))],
        "n_runs": n_runs,
    }


def peer_latencies(
    n_runs: int = 100, models_dir: str | Path | None = None, n_warmup: int | None = None
) -> dict[str, dict[str, float]]:
    """Median latency per inference, in seconds: ``{model: {runtime: seconds}}``.

    model in ``MODELS`` (``resnet8``, ``dscnn``), runtime in ``RUNTIMES`` (``tflm``,
    ``litert``, ``litert-builtin``). Runtimes that are not installed and absent models
    are left out (``peer_latency_stats`` says why).
    """
    stats = peer_latency_stats(n_runs, models_dir, n_warmup)
    return {
        model: {rt: float(s["median_us"]) * 1e-6 for rt, s in per_rt.items() if not isinstance(s, str)}
        for model, per_rt in stats.items()
    }


def peer_latency_stats(
    n_runs: int = 100, models_dir: str | Path | None = None, n_warmup: int | None = None
) -> dict[str, dict[str, dict[str, float | int] | str]]:
    """Latency statistics of each peer runtime on each MLPerf Tiny int8 model.

    Returns ``{model: {runtime: stats}}`` with stats ``{"median_us", "min_us", "p90_us",
    "n_runs"}`` (microseconds). A runtime or model that is unavailable gets a string
    saying why instead of stats, so a caller can print the table regardless.
    """
    if n_runs < 1:
        raise ValueError("n_runs must be >= 1")
    models_dir = Path(models_dir) if models_dir is not None else DEFAULT_MODELS_DIR
    n_warmup = max(3, n_runs // 10) if n_warmup is None else n_warmup
    factories: dict[str, Callable[[Path], Callable[[], None]]] = {
        "tflm": _tflm_invoker,
        "litert": lambda p: _litert_invoker(p, builtin_only=False),
        "litert-builtin": lambda p: _litert_invoker(p, builtin_only=True),
    }
    results: dict[str, dict[str, dict[str, float | int] | str]] = {}
    for model, filename in MODELS.items():
        path = models_dir / filename
        results[model] = {}
        for runtime, factory in factories.items():
            if not path.exists():
                results[model][runtime] = f"model {path} is absent"
                continue
            try:
                with _quiet_stderr():
                    invoke = factory(path)
                    results[model][runtime] = _time(invoke, n_runs, n_warmup)
            except ImportError as exc:
                results[model][runtime] = f"not installed ({exc.name})"
    return results


def format_table(results: dict[str, dict[str, dict[str, float | int] | str]]) -> str:
    """Plain-text table: one row per (model, runtime), latencies in microseconds."""
    rows = [("model", "runtime", "median us", "min us", "p90 us", "runs")]
    for model, per_runtime in results.items():
        for runtime, stats in per_runtime.items():
            if isinstance(stats, str):
                rows.append((model, runtime, stats, "", "", ""))
            else:
                rows.append(
                    (
                        model,
                        runtime,
                        f"{stats['median_us']:.1f}",
                        f"{stats['min_us']:.1f}",
                        f"{stats['p90_us']:.1f}",
                        str(stats["n_runs"]),
                    )
                )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Host latency of TFLM and LiteRT on the MLPerf Tiny int8 models.")
    parser.add_argument("--runs", type=int, default=200, help="timed invocations per model and runtime (default 200)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed invocations first (default max(3, runs/10))")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR, help="folder with the .tflite files")
    args = parser.parse_args(argv)
    print(format_table(peer_latency_stats(args.runs, args.models_dir, args.warmup)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
