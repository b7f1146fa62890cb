"""Recurrent state shaped ``[layers, batch, hidden]``: the 2-layer GRU and LSTM step models of
``tests/data/stateaxis`` (``make_state_axis.py``; PyTorch ``h0``/``c0`` of shape ``[2, 1, 16]``
as model inputs) calibrated on recorded states, verified, and streamed with ``--stateful``.

Calibration: 120 random frames (seed 0) of one stream and the float states recorded before
each (``qcompile.quant.stateful.run_stream``); test stream: 100 other random frames (seed 1).
Prints, per model: ``verify`` of the plain build on the calibration samples (bit-exact, output
SQNR against onnxruntime float), the ``--stateful`` build on the 100-step stream (bit-exact,
``logits`` SQNR against onnxruntime stepped with its own state), and with ``--m7`` the same
stream for cortex-m7 under QEMU (bit-exact, instructions per step).

Usage: ``python3 bench/bench_state_axis.py [--m7]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[len(sys.path) :] = [str(ROOT / "toolchain")]

import qcompile  # noqa: E402
from qcompile.quant.stateful import run_stream  # noqa: E402
from qcompile.tools.verify import verify  # noqa: E402

MODELS = ROOT / "tests" / "data" / "stateaxis"
PAIRS = {"gru2_step": [("h0", "hn")], "lstm2_step": [("h0", "hn"), ("c0", "cn")]}


def frames(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, 1, 10)).astype(np.float32)


def measure(name: str, work: Path, m7: bool) -> None:
    model = MODELS / f"{name}.onnx"
    x = frames(120, 0)
    states, _ = run_stream(model, {"x": x}, PAIRS[name])
    np.savez(work / "calib.npz", x=x, **states)
    np.savez(work / "stream.npz", x=frames(100, 1))
    qcompile.compile(model, work / "plain", calib=work / "calib.npz")
    plain = verify(work / "plain")
    sqnr = ", ".join(f"{o.name} {o.sqnr_db:.2f} dB" for o in plain.outputs)
    print(f"{name}: verify {plain.bit_exact}/{plain.samples} bit-exact, {sqnr}")
    qcompile.compile(model, work / "stream", calib=work / "calib.npz", stateful=PAIRS[name])
    streamed = verify(work / "stream", data=work / "stream.npz")
    logits = streamed.outputs[0].sqnr_db
    print(f"{name} --stateful, 100 steps: {streamed.bit_exact}/{streamed.samples}, logits {logits:.2f} dB")
    if m7:
        from qcompile.targets import load_target
        from qcompile.tools.firmware.verify_qemu import verify_on_qemu

        qcompile.compile(model, work / "m7", calib=work / "calib.npz", stateful=PAIRS[name], target="cortex-m7")
        qemu = verify_on_qemu(work / "m7", load_target("cortex-m7"), data=work / "stream.npz")
        steps = np.median(qemu.run.total_instructions)
        print(
            f"{name} --stateful cortex-m7 (QEMU), 100 steps: {qemu.result.bit_exact}/{qemu.result.samples}, "
            f"{steps:,.0f} instructions per step (median)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m7", action="store_true", help="also the stream on cortex-m7 under QEMU")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in PAIRS:
            (Path(tmp) / name).mkdir()
            measure(name, Path(tmp) / name, args.m7)


if __name__ == "__main__":
    main()
