"""Instruction counts of the DSP kernel family on the issue-12 real-world models, QEMU Cortex-M7.

    python3 bench/bench_dsp_realworld.py [--models kwt,mbv3,unet] [-n 3]

Compiles the keyword transformer (examples/kwt/kwt_opset17.onnx), the MobileNetV3-style SE model
(examples/realworld/mbv3_se.onnx at 1x3x48x48) and the U-Net decoder
(examples/realworld/unet_decoder.onnx) for cortex-m7 (calibration: the examples' own data),
runs ``n`` random int8 inputs through the portable and the dsp kernel families under QEMU
``-icount`` (qcompile.tools.firmware.bench: per-layer SysTick counts, outputs checked against
the numpy reference) and prints, per model, executed instructions summed per op, the dsp/portable
ratio and the whole-model totals. Instruction counts, not wall-clock time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "toolchain"))  # after site-packages: an installed qcompile wins
sys.path.insert(0, str(ROOT / "examples" / "realworld"))

from data import samples, smooth  # noqa: E402

from qcompile.compiler import CompileOptions, compile_model  # noqa: E402
from qcompile.targets import load_target  # noqa: E402
from qcompile.tools.firmware.bench import bench  # noqa: E402


def _calib(model: str) -> np.ndarray:
    if model == "kwt":
        return np.load(ROOT / "examples" / "kwt" / "calib.npz")["input"][:64]
    if model == "mbv3":
        return samples("mbv3", "calib", 32)
    return smooth(np.random.default_rng(50), 32, 3, 32, 32)


MODELS = {
    "kwt": (ROOT / "examples" / "kwt" / "kwt_opset17.onnx", ()),
    "mbv3": (ROOT / "examples" / "realworld" / "mbv3_se.onnx", ("input=1,3,48,48",)),
    "unet": (ROOT / "examples" / "realworld" / "unet_decoder.onnx", ()),
}


def per_op(layers: list[dict], counts: list[int]) -> dict[str, int]:
    """Instructions summed per op of one family's layers."""
    out: dict[str, int] = defaultdict(int)
    for layer, count in zip(layers, counts, strict=True):
        out[layer["op"]] += count
    return out


def run(model: str, n: int, tmp: Path) -> None:
    path, shapes = MODELS[model]
    calib = tmp / f"{model}_calib.npz"
    np.savez(calib, input=_calib(model))
    out = tmp / model
    options = CompileOptions(target="cortex-m7", calib=calib, name=model, progress=False, input_shape=shapes)
    compile_model(path, out, options)
    result = bench(out, load_target("cortex-m7"), families=["portable", "dsp"], samples=n)
    port, dsp = result.families
    p_ops, d_ops = per_op(port.layers, port.layer_instructions), per_op(dsp.layers, dsp.layer_instructions)
    print(f"\n{model}: executed instructions on QEMU mps2-an500 (Cortex-M7), median of {n} random inputs")
    print(f"{'op':18} {'portable':>12} {'dsp':>12} {'dsp/port':>9} {'share of dsp':>13}")
    for op in sorted(set(p_ops) | set(d_ops), key=lambda o: -p_ops.get(o, 0)):
        p, d = p_ops.get(op, 0), d_ops.get(op, 0)
        ratio = f"{d / p:9.2f}" if p else f"{'-':>9}"
        print(f"{op:18} {p:>12,} {d:>12,} {ratio} {100 * d / dsp.total_instructions:12.1f}%")
    total = dsp.total_instructions / port.total_instructions
    print(f"{'total':18} {port.total_instructions:>12,} {dsp.total_instructions:>12,} {total:9.2f}")
    print(f"bit-exact: portable {port.bit_exact}/{port.samples}, dsp {dsp.bit_exact}/{dsp.samples}")
    if port.bit_exact != port.samples or dsp.bit_exact != dsp.samples:
        raise SystemExit(f"{model}: QEMU output differs from the reference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kwt,mbv3,unet")
    parser.add_argument("-n", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dsp-rw-") as tmpdir:
        for model in args.models.split(","):
            run(model, args.n, Path(tmpdir))


if __name__ == "__main__":
    main()
