"""16x8 (int16 activations, ``--act-bits 16``) on QEMU Cortex-M7: the DSP family's s16 kernels
(codegen/families/dsp_s16.py) vs the portable ``qc_<op>_s16`` kernels, in the same run.

Compiles the MLPerf Tiny DS-CNN (KWS) and ResNet-8, the digits CNN (examples/digits: max and
average pool, softmax) and the MobileNetV3-style SE model (examples/realworld/mbv3_se.onnx: the
squeeze-excite MUL, int8<->int16 requantisations around the hard-swish LUTs) with
``--act-bits 16`` for cortex-m7, then
``qcompile bench``'s machinery (tools/firmware/bench.py) builds the same quantized graph with the
``portable`` family (what every 16x8 layer ran before the DSP s16 kernels) and the ``dsp`` family,
runs one random int16 input through each image under ``-icount shift=0`` and checks both
bit-exact against the numpy reference. Also prints the int8 model on the ``dsp`` family, the
cost 16x8 is compared with, and CMSIS-NN's s16 kernels on the same machine for the KWS and
ResNet-8 layer shapes (``CMSIS_S16``). Executed instructions, not time: deterministic.

    python3 bench/bench_dsp_s16.py [--models kws,resnet8,digits,mbv3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent / "toolchain"))  # after site-packages (CI)

import numpy as np  # noqa: E402
from bench_dsp import _calibration  # noqa: E402  (the same calibration as the int8 DSP bench)
from layer_table import LayerRow, print_layer_table  # noqa: E402

from qcompile.compiler import CompileOptions, compile_model  # noqa: E402
from qcompile.targets import load_target  # noqa: E402
from qcompile.tools.firmware.bench import bench  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ONNX = {"resnet8": "mlperf_ic_resnet8.onnx", "kws": "mlperf_kws_dscnn.onnx"}

# CMSIS-NN's s16 kernels on the same QEMU machine, executed instructions of one call (SysTick
# ticks x 40 around the call, -icount shift=0), for the layer shapes of the models here. Measured
# with CMSIS-NN 99f736a63036613032f9b70de36b493bcd7802d4 (ARM-software/CMSIS-NN, 2026-07-15),
# arm-none-eabi-gcc with the cortex-m7 target's flags (-mcpu=cortex-m7 -mthumb -mfloat-abi=hard
# -mfpu=fpv5-d16 -O2 -ffunction-sections -fdata-sections), a bare-metal image on mps2-an500 calling
# arm_convolve_wrapper_s16 (int64 bias), arm_depthwise_conv_wrapper_s16 (its fast variant for these
# shapes) and arm_fully_connected_s16 on random data. The CMSIS-NN code and that harness are not
# part of this repository.
CMSIS_S16 = {
    "kws conv 10x4 1->64, 49x10 -> 25x5, stride 2": 1_199_480,
    "kws depthwise 3x3, 25x5x64": 830_680,
    "kws pointwise 1x1 64->64, 25x5": 1_346_080,
    "kws fully connected 64->12": 2_560,
    "resnet8 conv 3x3 16->16, 32x32": 5_709_720,
}
# which layer of our table each CMSIS-NN figure is compared with
CMSIS_LAYERS = {
    "kws": {0: "kws conv 10x4 1->64, 49x10 -> 25x5, stride 2", 1: "kws depthwise 3x3, 25x5x64",
            2: "kws pointwise 1x1 64->64, 25x5", 11: "kws fully connected 64->12"},
    "resnet8": {1: "resnet8 conv 3x3 16->16, 32x32"},
}  # fmt: skip


def _model(model: str, tmp: Path) -> tuple[Path, Path, list[str] | None]:
    """(ONNX file, calibration .npz, --input-shape) of a bench model."""
    if model == "digits":
        return EXAMPLES / "digits" / "digits_cnn.onnx", EXAMPLES / "digits" / "calib.npz", None
    if model == "mbv3":
        sys.path.insert(0, str(EXAMPLES / "realworld"))
        from data import samples  # examples/realworld/data.py: the bench_realworld.py data

        np.savez(tmp / "mbv3_calib.npz", input=samples("mbv3", "calib", 16))
        return EXAMPLES / "realworld" / "mbv3_se.onnx", tmp / "mbv3_calib.npz", ["input=1,3,48,48"]
    return SHARED / "models" / ONNX[model], _calibration(model, tmp), None


def _measure(model: str, bits: int, families: list[str], tmp: Path):
    out = tmp / f"{model}-{bits}"
    onnx, calib, shape = _model(model, tmp)
    options = CompileOptions(target="cortex-m7", calib=calib, name=model, progress=False, act_bits=bits)
    options.input_shape = shape
    compile_model(onnx, out, options)
    result = bench(out, load_target("cortex-m7"), families=families, samples=1)
    for fam in result.families:
        if fam.bit_exact != fam.samples:
            raise SystemExit(f"{model} {bits}-bit / {fam.family}: QEMU output differs from the reference")
    return result


def _print_cmsis(model: str, rows: list) -> None:
    for i, name in CMSIS_LAYERS.get(model, {}).items():
        ours = rows[i].counts[1]
        print(
            f"    CMSIS-NN s16 {name}: {CMSIS_S16[name]:,} vs dsp s16 layer {i}: {ours:,} ({ours / CMSIS_S16[name]:.2f}x)"
        )


def _report(model: str, r16, r8) -> None:
    port, dsp = r16.families
    rows = r16.rows()
    table = [LayerRow(str(i), row.ops[1] or row.ops[0], row.macs, row.counts) for i, row in enumerate(rows)]
    title = f"{model} 16x8: executed instructions on QEMU mps2-an500 (Cortex-M7), one inference"
    print_layer_table(title, ["portable s16", "dsp s16"], table, with_output=False)
    t8 = r8.families[0].total_instructions
    print(
        f"    total: portable s16 {port.total_instructions / 1e6:.2f} M, dsp s16 "
        f"{dsp.total_instructions / 1e6:.2f} M ({port.total_instructions / dsp.total_instructions:.2f}x fewer); "
        f"int8 dsp {t8 / 1e6:.2f} M (16x8 dsp / int8 dsp {dsp.total_instructions / t8:.2f}x); bit-exact"
    )
    _print_cmsis(model, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kws,resnet8,digits,mbv3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dsp-s16-") as tmpdir:
        tmp = Path(tmpdir)
        for model in args.models.split(","):
            _report(model, _measure(model, 16, ["portable", "dsp"], tmp), _measure(model, 8, ["dsp"], tmp))


if __name__ == "__main__":
    main()
