"""Recurrent kernels on Cortex-M7 under QEMU: executed instructions per step, portable vs dsp.

Two models: ``bench/models/lstm_kws.tflite`` (TFLite UNIDIRECTIONAL_SEQUENCE_LSTM, 49 frames x 10
inputs -> 32 units per call, TFLM's integer LSTM) and ``tests/data/gru/gru_kws_step.onnx`` (the
PyTorch GRU 10 -> 32 keyword model exported one frame per call, compiled with ``--stateful
h=h_next``, calibrated as ``bench_gru.py`` does). Each is compiled for ``cortex-m7`` and run
through ``qcompile.tools.firmware.bench`` with the ``portable`` and ``dsp`` kernel families
(QEMU mps2-an500, -icount, SysTick per layer: resolution 40 instructions); the recurrent layer's
count is divided by its steps per call. Every run is also checked bit-exact against the numpy
reference (the dsp kernels are templates/kernels/dsp/lstm.c.j2 and gru.c.j2).

Usage: ``python3 bench/bench_rnn.py [-n 3] [--target cortex-m55]`` (the GRU needs ``../shared/data/kws_mfcc_dev500.npz``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[len(sys.path) :] = [str(ROOT / "bench"), str(ROOT / "toolchain")]

from bench_gru import MODELS, kws_frames, record_states  # noqa: E402

from qcompile.compiler import CompileOptions, compile_model  # noqa: E402
from qcompile.targets import load_target  # noqa: E402
from qcompile.tools.firmware.bench import bench  # noqa: E402

LSTM = ROOT / "bench" / "models" / "lstm_kws.tflite"
LSTM_STEPS = 49
#: CMSIS-NN's arm_lstm_unidirectional_s8 on the same shape and QEMU machine, measured once by hand
#: (nothing of it is in this repository): CMSIS-NN commit 99f736a63036613032f9b70de36b493bcd7802d4,
#: batch 1 x 49 steps, 10 inputs -> 32 units, batch-major, random int8 weights and effective
#: biases, sigmoid/tanh gates, cell_scale_power -11; the LSTM, NNSupport, BasicMath and Activation
#: sources built with arm-none-eabi-gcc 12.2.1 -mcpu=cortex-m7 -mthumb -mfloat-abi=hard
#: -mfpu=fpv5-d16 -O2 (qcompile's cortex-m7 flags) into a bare-metal image with qcompile's QEMU
#: startup and linker script; qemu-system-arm -M mps2-an500 -icount shift=0, SysTick read around
#: the one call: 37,007 ticks x 40 = 1,480,280 instructions per call, 30.21 k per step (-O3: 29.94 k;
#: other multipliers and shifts changed it by under 0.2 %).
CMSIS_NN_LSTM_PER_STEP: int | None = 30_210


def _lstm(work: Path, target: str) -> Path:
    out = work / "lstm"
    compile_model(LSTM, out, CompileOptions(target=target, name="lstm_kws", progress=False))
    return out


def _gru(work: Path, target: str) -> Path:
    x = kws_frames()
    frames = x[:10].reshape(-1, 10)
    model = MODELS / "gru_kws_step.onnx"
    np.savez(work / "gru_calib.npz", x=frames[:, None, None], h=record_states(model, frames))
    out = work / "gru"
    options = CompileOptions(
        target=target, calib=work / "gru_calib.npz", stateful=[("h", "h_next")], name="gru_kws", progress=False
    )
    compile_model(model, out, options)
    return out


def measure(out: Path, op: str, steps: int, samples: int, target: str) -> dict[str, dict[str, float]]:
    """Per family: the ``op`` layer's instructions per step, the model's per call, bit-exact count
    (``portable``, ``dsp``, and the target's own family when it is another, e.g. ``mve``)."""
    t = load_target(target)
    families = list(dict.fromkeys(["portable", "dsp", t.kernel_family]))
    result = bench(out, t, families=families, samples=samples)
    rows: dict[str, dict[str, float]] = {}
    for f in result.families:
        layer = sum(c for lay, c in zip(f.layers, f.layer_instructions, strict=True) if lay["op"] == op)
        rows[f.family] = {
            "per_step": layer / steps,
            "total": f.total_instructions,
            "bit_exact": f.bit_exact,
            "samples": f.samples,
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="calls per family (median per layer)")
    parser.add_argument("--target", default="cortex-m7", help="a QEMU Cortex-M target (cortex-m7, cortex-m55)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rnn-") as tmp:
        work = Path(tmp)
        cases = [
            ("lstm_kws.tflite (49 x 10 -> 32 LSTM)", _lstm(work, args.target), "lstm", LSTM_STEPS),
            ("gru_kws_step.onnx (10 -> 32 GRU, one frame per call)", _gru(work, args.target), "gru", 1),
        ]
        for title, out, op, steps in cases:
            rows = measure(out, op, steps, args.n, args.target)
            print(f"{title} on {args.target}")
            base = rows["portable"]["per_step"]
            for family, r in rows.items():
                print(
                    f"  {family:9s} {op} {r['per_step'] / 1e3:6.2f} k instructions per step "
                    f"({r['per_step'] / base:.2f}x), model {r['total']:,} per call, "
                    f"bit-exact {r['bit_exact']}/{r['samples']}"
                )
            if op == "lstm" and args.target == "cortex-m7":
                anchor = "not measured" if CMSIS_NN_LSTM_PER_STEP is None else f"{CMSIS_NN_LSTM_PER_STEP / 1e3:.2f} k"
                print(f"  CMSIS-NN arm_lstm_unidirectional_s8: {anchor} per step (measured by hand, see the constant)")
                if CMSIS_NN_LSTM_PER_STEP is not None:
                    print(f"  dsp / CMSIS-NN: {rows['dsp']['per_step'] / CMSIS_NN_LSTM_PER_STEP:.2f}x")


if __name__ == "__main__":
    main()
