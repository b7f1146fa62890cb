"""Instruction counts of the DSP kernel family vs the portable kernels on QEMU Cortex-M7.

Compiles the MLPerf Tiny ResNet-8 and DS-CNN twice for the cortex-m7 QEMU machine (kernel
family ``dsp`` and ``portable``, same calibration), runs one input through each image under
``-icount`` (qcompile.tools.firmware.run_on_qemu, per-layer SysTick counts) and prints per-layer
executed instructions, the dsp/portable ratio, the CMSIS-NN anchor numbers and code size.
Instruction counts, not wall-clock time: deterministic and independent of machine load.

    python3 bench/bench_dsp.py [--models resnet8,kws]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np
from layer_table import LayerRow, print_layer_table

from qcompile.compiler import CompileOptions, compile_model
from qcompile.outdir import ModelFolder, read_report
from qcompile.reference.executor import run_quantized
from qcompile.targets import load_target
from qcompile.tools.firmware import build_image, run_on_qemu, size_split

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
# CMSIS-NN on the same QEMU M7 (issue #3 anchors): whole model, and single layers.
CMSIS = {"resnet8": 29.97e6, "kws_dw3x3": 0.56e6, "kws_pw1x1": 1.05e6}


def _calibration(model: str, tmp: Path) -> Path:
    path = tmp / f"{model}_calib.npz"
    if model == "resnet8":
        rng = np.random.default_rng(1)
        np.savez(path, input_1=rng.uniform(0, 255, size=(50, 1, 3, 32, 32)).astype(np.float32))
    else:
        with np.load(SHARED / "data" / "kws_mfcc_dev500.npz") as d:
            x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
        np.savez(path, input_1=x[:100].reshape(-1, 1, 49, 10))
    return path


def _run(model: str, family: str, tmp: Path) -> tuple[list[dict], list[int], int, dict]:
    onnx = SHARED / "models" / ("mlperf_ic_resnet8.onnx" if model == "resnet8" else "mlperf_kws_dscnn.onnx")
    target = dataclasses.replace(load_target("cortex-m7"), kernel_family=family)
    toml = tmp / f"m7-{family}.toml"
    qemu = target.qemu
    assert qemu is not None
    toml.write_text(
        f'name = "cortex-m7-{family}"\nkernel_family = "{family}"\ncc = "{target.cc}"\n'
        f"cflags = {json.dumps(list(target.cflags))}\nalignment = {target.alignment}\n"
        f'[qemu]\nmachine = "{qemu.machine}"\nsystick_hz = {qemu.systick_hz}\n'
        f"flash = {list(qemu.flash)}\nram = {list(qemu.ram)}\n"
    )
    out = tmp / f"{model}-{family}"
    compile_model(
        onnx, out, CompileOptions(target=str(toml), calib=_calibration(model, tmp), name=model, progress=False)
    )
    graph = ModelFolder.open(out).graph
    x = np.random.default_rng(0).integers(-128, 128, size=(1, graph.tensors[graph.inputs[0]].size), dtype=np.int8)
    t = load_target(toml)
    res = run_on_qemu(out, t, x, layer_counts=True)
    ref = run_quantized(graph, [x[0].reshape(graph.tensors[graph.inputs[0]].shape)])
    if not np.array_equal(res.outputs[0][0], ref[graph.outputs[0]].reshape(-1)):
        raise SystemExit(f"{model}/{family}: QEMU output differs from the reference")
    report = read_report(out)
    assert res.layer_instructions is not None
    split = size_split(build_image(out, t))
    return report["layers"], [int(v) for v in res.layer_instructions[0]], int(res.total_instructions[0]), vars(split)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet8,kws")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dsp-") as tmpdir:
        tmp = Path(tmpdir)
        for model in args.models.split(","):
            layers, dsp, dsp_total, dsp_size = _run(model, "dsp", tmp)
            port_layers, port, port_total, port_size = _run(model, "portable", tmp)
            # The families may fuse differently (the portable one fuses the pool+FC head), so
            # rows are matched by layer name; a layer only one family has shows "-" for the other.
            port_by_name = {layer["name"]: count for layer, count in zip(port_layers, port, strict=True)}
            port_op = {layer["name"]: layer["op"] for layer in port_layers}
            table: list[LayerRow] = []
            for i, layer in enumerate(layers):
                p = port_by_name.pop(layer["name"], None)
                note = None
                if p is not None and port_op[layer["name"]] != layer["op"]:
                    note = f"portable runs layer {i} as {port_op[layer['name']]}: the count covers the fused layers"
                table.append(LayerRow(str(i), layer["op"], layer["macs"], [p, dsp[i]], str(layer["output"]), note))
            for layer, count in zip(port_layers, port, strict=True):
                if layer["name"] in port_by_name:
                    table.append(LayerRow("", layer["op"], layer["macs"], [count, None], str(layer["output"])))
            title = f"{model}: executed instructions on QEMU mps2-an500 (Cortex-M7), one inference"
            print_layer_table(title, ["portable", "dsp"], table, with_output=True)
            print(
                f"    total: portable {port_total / 1e6:.2f} M, dsp {dsp_total / 1e6:.2f} M ({dsp_total / port_total:.2f}x)"
            )
            print(f"    code bytes (excluding weights): portable {port_size['code']}, dsp {dsp_size['code']}")
            if model == "resnet8":
                print(
                    f"    CMSIS-NN anchor: {CMSIS['resnet8'] / 1e6:.2f} M -> dsp/CMSIS {dsp_total / CMSIS['resnet8']:.2f}"
                )
            else:
                dw = [dsp[i] for i, layer in enumerate(layers) if layer["op"] == "depthwise_conv2d"]
                pw = [dsp[i] for i, layer in enumerate(layers) if layer["op"] == "conv2d" and i > 0]
                if dw and pw:
                    print(
                        f"    3x3 depthwise 25x5x64: dsp {dw[0] / 1e6:.3f} M vs CMSIS-NN {CMSIS['kws_dw3x3'] / 1e6:.2f} M"
                    )
                    print(
                        f"    1x1 64->64 on 25x5:    dsp {pw[0] / 1e6:.3f} M vs CMSIS-NN {CMSIS['kws_pw1x1'] / 1e6:.2f} M"
                    )


if __name__ == "__main__":
    main()
