"""Per-layer cost of the portable conv / depthwise / fully-connected / add kernels on MLPerf shapes.

Why: whole-model latency (bench/bench_host.py) says how fast qcompile is, not which
kernel path to work on. This quantizes ResNet-8 and DS-CNN with qcompile, takes every
conv2d, depthwise_conv2d, fully_connected and add layer with its real weights,
requantisation parameters and shapes, and writes a C harness that calls the runtime
kernel for each layer on a fixed random input. (The residual adds are measured as
qc_add_s8: the fused conv2d_add epilogue runs the same row code.) The harness is built twice in the same run, against the
current runtime (runtime_c/) and against a baseline (the runtime of a git revision,
default HEAD), so the ratio column compares like with like.

Two measures:
- ``--mode instr`` (default): instructions per call from valgrind's callgrind. Stable
  when the machine is loaded (2 shared cores here), but blind to memory stalls and to
  how many instructions retire per cycle.
- ``--mode time``: wall-clock ns per call (best of several repeats of a timed loop).

Both harnesses also check that current and baseline produce the same output bytes for
every layer (they must: both are bit-exact with the reference).

Run: python3 bench/bench_kernels.py [--mode instr|time] [--baseline REV] [--cflags "-O3 -march=native"]
     [--models resnet8,dscnn]
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_host import calibration_data  # same data, so the layers get the same parameters
from rich.console import Console
from rich.table import Table

from qcompile.ops import ADD_ATTRS

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MODELS = {
    "resnet8": "mlperf_ic_resnet8.onnx",
    "dscnn": "mlperf_kws_dscnn.onnx",
}
KERNEL_OPS = ("conv2d", "depthwise_conv2d", "fully_connected", "add")
SCRATCH_BYTES = 1 << 20  # the harness's scratch buffer; each kernel's own size is checked against it


@dataclass
class Layer:
    """One kernel call: what to print and the C that declares and runs it."""

    label: str
    op: str
    shape: str
    macs: int
    decls: str
    call: str
    out_bytes: int


def _c_array(ctype: str, name: str, values: np.ndarray) -> str:
    body = ",".join(str(int(v)) for v in np.asarray(values).reshape(-1))
    return f"static const {ctype} {name}[] __attribute__((aligned(16))) = {{{body}}};"


def _per_channel(values: object, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    return np.repeat(arr, n) if arr.size == 1 and n > 1 else arr


def _layers(model: str, work: Path) -> list[Layer]:
    """Quantize ``model`` and describe its kernel layers."""
    from qcompile.compiler import CompileOptions, quantize_model

    np.savez(work / f"{model}_calib.npz", input_1=calibration_data(model, 100))
    # The quantized graph before the memory passes: every conv is still a plain conv2d.
    graph = quantize_model(
        SHARED / "models" / MODELS[model], CompileOptions(calib=work / f"{model}_calib.npz", progress=False)
    )
    layers: list[Layer] = []
    for i, node in enumerate(graph.nodes):
        if node.op not in KERNEL_OPS:
            continue
        a = node.attrs
        xs = tuple(graph.tensors[node.inputs[0]].shape)
        if node.op == "add":
            layers.append(_add_layer(f"{model}_{i}", a, xs, tuple(graph.tensors[node.inputs[1]].shape)))
            continue
        wt = graph.tensors[node.inputs[1]]
        ys = tuple(graph.tensors[node.outputs[0]].shape)
        tag = f"{model}_{i}"
        bias_t = graph.tensors[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
        n_out = ys[-1]
        nq = n_out if node.op != "fully_connected" or np.asarray(a["multiplier"]).size > 1 else 1
        decls = [
            _c_array("int8_t", f"w_{tag}", wt.data),
            _c_array("int32_t", f"m_{tag}", _per_channel(a["multiplier"], nq)),
            _c_array("int32_t", f"s_{tag}", _per_channel(a["shift"], nq)),
        ]
        bias = "NULL"
        if bias_t is not None:
            decls.append(_c_array("int32_t", f"b_{tag}", bias_t.data))
            bias = f"b_{tag}"
        args = f"w_{tag}, {bias}, m_{tag}, s_{tag}, out_buf, scratch_buf"
        if node.op == "fully_connected":
            nout, k = wt.shape
            rows = math.prod(xs) // k
            fields = [rows, k, nout, a["input_offset"], a["output_offset"], a["act_min"], a["act_max"], int(nq > 1)]
            decls.append(f"static const qc_fc_params p_{tag} = {{{', '.join(str(int(f)) for f in fields)}}};")
            call = f"qc_fully_connected_s8(&p_{tag}, in_buf, {args})"
            scratch = f"qc_fully_connected_s8_scratch_size(&p_{tag})"
            macs, shape = rows * nout * k, f"{rows}x{k} -> {nout}"
        else:
            dw = node.op == "depthwise_conv2d"
            kh, kw = (wt.shape[0], wt.shape[1]) if dw else (wt.shape[1], wt.shape[2])
            groups, dm = (1, int(a["depth_multiplier"])) if dw else (int(a.get("groups", 1)), 1)
            fields = [
                *xs[:4],
                *ys[1:4],
                kh,
                kw,
                *a["strides"],
                *a["dilations"],
                a["pads"][0],
                a["pads"][1],
                groups,
                dm,
                a["input_offset"],
                a["output_offset"],
                a["act_min"],
                a["act_max"],
            ]
            decls.append(f"static const qc_conv_params p_{tag} = {{{', '.join(str(int(f)) for f in fields)}}};")
            fn = "qc_depthwise_conv2d_s8" if dw else "qc_conv2d_s8"
            call = f"{fn}(&p_{tag}, in_buf, {args})"
            scratch = f"{fn}_scratch_size(&p_{tag})"
            taps = kh * kw * (1 if dw else wt.shape[3])
            macs = math.prod(ys) * taps
            stride = "" if tuple(a["strides"]) == (1, 1) else f" s{a['strides'][0]}"
            shape = f"{xs[1]}x{xs[2]}x{xs[3]} k{kh}x{kw}{stride} -> {ys[3]}"
        body = (
            f"__attribute__((noinline)) static void layer_{tag}(void) {{\n"
            f"    if ({scratch} > sizeof(scratch_buf) || {call} != QC_OK) {{ abort(); }}\n}}\n"
        )
        layers.append(Layer(tag, node.op, shape, macs, "\n".join(decls) + "\n" + body, f"layer_{tag}", math.prod(ys)))
    return layers


def _add_layer(tag: str, attrs: dict, shape1: tuple[int, ...], shape2: tuple[int, ...]) -> Layer:
    """qc_add_s8 on the layer's broadcast layout; the second input starts half-way into in_buf."""
    from qcompile.op_params import broadcast_layout

    out5, st1, st2 = broadcast_layout(shape1, shape2)
    fields = ", ".join(
        [
            "{" + ", ".join(map(str, out5)) + "}",
            "{" + ", ".join(map(str, st1)) + "}",
            "{" + ", ".join(map(str, st2)) + "}",
            *(str(int(attrs.get(k, 0))) for k in ADD_ATTRS),
        ]
    )
    call = f"qc_add_s8(&p_{tag}, in_buf, in_buf + sizeof(in_buf) / 2, out_buf)"
    body = (
        f"static const qc_add_params p_{tag} = {{{fields}}};\n"
        f"__attribute__((noinline)) static void layer_{tag}(void) {{\n"
        f"    if ({call} != QC_OK) {{ abort(); }}\n}}\n"
    )
    n = math.prod(out5)
    return Layer(
        tag, "add", f"{'x'.join(map(str, shape1[1:]))} + {'x'.join(map(str, shape2[1:]))}", n, body, f"layer_{tag}", n
    )


_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "qc_kernels.h"

static int8_t in_buf[1 << 16] __attribute__((aligned(64)));
static int8_t out_buf[1 << 16] __attribute__((aligned(64)));
static uint8_t scratch_buf[@SCRATCH@] __attribute__((aligned(64)));

@LAYERS@

typedef void (*layer_fn)(void);
static const layer_fn layers[] = {@TABLE@};
static const int out_bytes[] = {@OUTS@};

int main(int argc, char **argv) {
    const int timed = argc > 1 && argv[1][0] == 't';
    const int iters = argc > 2 ? atoi(argv[2]) : 1;
    uint32_t s = 12345u;
    for (size_t i = 0; i < sizeof(in_buf); ++i) {
        s = s * 1103515245u + 12345u;
        in_buf[i] = (int8_t)((int32_t)((s >> 16) & 0xffu) - 128);
    }
    for (size_t l = 0; l < sizeof(layers) / sizeof(layers[0]); ++l) {
        double best = 1e30;
        layers[l]();
        for (int r = 0; r < (timed ? 7 : 0); ++r) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (int i = 0; i < iters; ++i) {
                layers[l]();
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            const double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / iters;
            best = ns < best ? ns : best;
        }
        uint32_t h = 2166136261u;
        for (int i = 0; i < out_bytes[l]; ++i) {
            h = (h ^ (uint8_t)out_buf[i]) * 16777619u;
        }
        printf("%zu %.1f %08x\n", l, timed ? best : 0.0, (unsigned)h);
    }
    return 0;
}
"""


def _harness(layers: list[Layer]) -> str:
    return (
        _MAIN.replace("@SCRATCH@", str(SCRATCH_BYTES))
        .replace("@LAYERS@", "\n".join(layer.decls for layer in layers))
        .replace("@TABLE@", ", ".join(layer.call for layer in layers))
        .replace("@OUTS@", ", ".join(str(layer.out_bytes) for layer in layers))
    )


def _build(runtime: Path, harness: Path, exe: Path, cflags: list[str]) -> None:
    sources = [
        runtime / "src" / f for f in ("qc_conv2d.c", "qc_depthwise_conv2d.c", "qc_fully_connected.c", "qc_add.c")
    ]
    sources += sorted(p for p in (runtime / "src").glob("qc_gemm*.c"))
    cmd = ["cc", "-std=c99", "-g", *cflags, f"-I{runtime / 'include'}", f"-I{runtime / 'src'}", str(harness)]
    subprocess.run([*cmd, *map(str, sources), "-o", str(exe)], check=True)


def _run_time(exe: Path, iters: int) -> tuple[list[float], list[str]]:
    out = subprocess.run([str(exe), "t", str(iters)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    return [float(r[1]) for r in rows], [r[2] for r in rows]


def _run_instr(exe: Path, layers: list[Layer], work: Path) -> tuple[list[float], list[str]]:
    """Inclusive instruction count of each layer_* function (called once: no timing loop)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--mode instr needs valgrind (apt-get install valgrind)")
    cg = work / f"{exe.name}.callgrind"
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cg}", str(exe), "i", "1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    hashes = [line.split()[2] for line in out.splitlines()]
    ann = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(cg)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts: dict[str, float] = {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*\blayer_(\w+?)\s", line + " ")
        if m:
            counts[m.group(2)] = float(m.group(1).replace(",", "")) / 1.0
    return [counts.get(layer.label, float("nan")) for layer in layers], hashes


def _baseline_runtime(rev: str, work: Path) -> Path:
    dest = work / "baseline"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "runtime_c"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "runtime_c"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("instr", "time"), default="instr")
    parser.add_argument("--baseline", default="HEAD", help="git revision whose runtime_c is the baseline")
    parser.add_argument("--cflags", default="-O3 -march=native")
    parser.add_argument("--iters", type=int, default=200, help="calls per timed repeat (--mode time)")
    parser.add_argument("--models", default="resnet8,dscnn")
    parser.add_argument("--keep", type=Path, help="keep the harness sources, binaries and callgrind files here")
    args = parser.parse_args()
    console = Console(width=160)
    cflags = shlex.split(args.cflags)
    with tempfile.TemporaryDirectory(prefix="qcompile-kbench-") as tmp:
        work = Path(tmp)
        if args.keep is not None:
            shutil.rmtree(args.keep, ignore_errors=True)
            args.keep.mkdir(parents=True)
            work = args.keep.resolve()
        layers = [layer for model in args.models.split(",") for layer in _layers(model, work)]
        harness = work / "harness.c"
        harness.write_text(_harness(layers))
        runtimes = {"baseline": _baseline_runtime(args.baseline, work), "current": REPO / "runtime_c"}
        results = {}
        for name, runtime in runtimes.items():
            exe = work / f"harness_{name}"
            _build(runtime, harness, exe, cflags)
            results[name] = _run_time(exe, args.iters) if args.mode == "time" else _run_instr(exe, layers, work)
    unit = "ns/call" if args.mode == "time" else "instr/call"
    table = Table(title=f"portable kernels per layer ({unit}); baseline = runtime_c at {args.baseline}; {args.cflags}")
    for col in (
        "layer",
        "op",
        "shape",
        "MACs (add: elements)",
        f"baseline {unit}",
        f"current {unit}",
        "speed-up",
        "MAC/unit",
        "same out",
    ):
        table.add_column(col, justify="right")
    totals = {"baseline": 0.0, "current": 0.0}
    for i, layer in enumerate(layers):
        base, cur = results["baseline"][0][i], results["current"][0][i]
        totals["baseline"] += base
        totals["current"] += cur
        same = "yes" if results["baseline"][1][i] == results["current"][1][i] else "[red]NO[/red]"
        table.add_row(
            layer.label,
            layer.op,
            layer.shape,
            f"{layer.macs}",
            f"{base:,.0f}",
            f"{cur:,.0f}",
            f"{base / cur:.2f}x",
            f"{layer.macs / cur:.2f}",
            same,
        )
    table.add_row(
        "total",
        "",
        "",
        "",
        f"{totals['baseline']:,.0f}",
        f"{totals['current']:,.0f}",
        f"{totals['baseline'] / totals['current']:.2f}x",
        "",
        "",
    )
    console.print(table)
    if any(results["baseline"][1][i] != results["current"][1][i] for i in range(len(layers))):
        sys.exit(1)


if __name__ == "__main__":
    main()
