"""16x8 (int16 activations, ``--act-bits 16``) on QEMU Cortex-M7: the DSP family's s16 kernels
(codegen/families/dsp_s16.py) vs the portable ``qc_<op>_s16`` kernels, in the same run.

Compiles the MLPerf Tiny DS-CNN (KWS) and ResNet-8 with ``--act-bits 16`` for cortex-m7, then
``qcompile bench``'s machinery (tools/firmware/bench.py) builds the same quantized graph with the
``portable`` family (what every 16x8 layer ran before the DSP s16 kernels) and the ``dsp`` family,
runs one random int16 input through each image under ``-icount shift=0`` and checks both
bit-exact against the numpy reference. Also prints the int8 model on the ``dsp`` family, the
cost 16x8 is compared with. Executed instructions, not time: deterministic.

    python3 bench/bench_dsp_s16.py [--models kws,resnet8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent / "toolchain"))  # after site-packages (CI)

from bench_dsp import _calibration  # noqa: E402  (the same calibration as the int8 DSP bench)

from qcompile.compiler import CompileOptions, compile_model  # noqa: E402
from qcompile.targets import load_target  # noqa: E402
from qcompile.tools.firmware.bench import bench  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
ONNX = {"resnet8": "mlperf_ic_resnet8.onnx", "kws": "mlperf_kws_dscnn.onnx"}


def _measure(model: str, bits: int, families: list[str], tmp: Path):
    out = tmp / f"{model}-{bits}"
    options = CompileOptions(
        target="cortex-m7", calib=_calibration(model, tmp), name=model, progress=False, act_bits=bits
    )
    compile_model(SHARED / "models" / ONNX[model], out, options)
    result = bench(out, load_target("cortex-m7"), families=families, samples=1)
    for fam in result.families:
        if fam.bit_exact != fam.samples:
            raise SystemExit(f"{model} {bits}-bit / {fam.family}: QEMU output differs from the reference")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kws,resnet8")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dsp-s16-") as tmpdir:
        tmp = Path(tmpdir)
        for model in args.models.split(","):
            r16 = _measure(model, 16, ["portable", "dsp"], tmp)
            r8 = _measure(model, 8, ["dsp"], tmp)
            port, dsp = r16.families
            print(f"\n{model} 16x8: executed instructions on QEMU mps2-an500 (Cortex-M7), one inference")
            print(f"{'#':>3} {'op':18} {'MACs':>9} {'portable s16':>13} {'dsp s16':>11} {'dsp/port':>8}")
            for i, row in enumerate(r16.rows()):
                p, d = row.counts
                ratio = f"{d / p:8.2f}" if p and d is not None else f"{'-':>8}"
                op = row.ops[1] or row.ops[0]
                print(
                    f"{i:>3} {op:18} {row.macs:>9} {'-' if p is None else p:>13} {'-' if d is None else d:>11} {ratio}"
                )
            t8 = r8.families[0].total_instructions
            print(
                f"    total: portable s16 {port.total_instructions / 1e6:.2f} M, dsp s16 "
                f"{dsp.total_instructions / 1e6:.2f} M ({port.total_instructions / dsp.total_instructions:.2f}x fewer); "
                f"int8 dsp {t8 / 1e6:.2f} M (16x8 dsp / int8 dsp {dsp.total_instructions / t8:.2f}x); bit-exact"
            )


if __name__ == "__main__":
    main()
