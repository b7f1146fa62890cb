"""LSTM keyword models: qcompile's int8 ONNX LSTM against ONNX Runtime's ``quantize_static``, the
``--stateful`` stream, and Cortex-M7 instructions under QEMU.

The PyTorch models of ``tests/data/lstm`` (``make_lstm_kws.py``: 10 MFCC -> 32 hidden, a linear
head over the last state; forward, bidirectional, two layers) are measured as bench_gru.py
measures the GRU (``bench_gru.whole_utterance``: calibrated on the first 200 shared KWS
utterances, tested on the last 100, output SQNR against onnxruntime float, ORT's per-channel
QDQ model run exactly). Then ``lstm_kws_step.onnx`` one frame per call with
``--stateful h=h_next --stateful c=c_next`` over 100 frames, and with ``--m7`` the instructions
per sequence and per step of ``lstm_kws.onnx`` and of the step model on cortex-m7 (QEMU icount).

Usage: ``python3 bench/bench_lstm.py [--m7]`` (needs ``../shared/data/kws_mfcc_dev500.npz``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[len(sys.path) :] = [str(ROOT / "bench"), str(ROOT / "toolchain")]

from bench_gru import kws_frames, whole_utterance  # noqa: E402

import qcompile  # noqa: E402
from qcompile.tools.evaluate import evaluate  # noqa: E402
from qcompile.tools.verify import verify  # noqa: E402

MODELS = ROOT / "tests" / "data" / "lstm"
WHOLE = ("lstm_kws", "lstm_kws_bi", "lstm_kws_2l")
STATEFUL = [("h", "h_next"), ("c", "c_next")]


def record_states(model: Path, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float ``h`` and ``c`` before each frame of one stream (zeros first) of the step model:
    the recorded states ``--stateful`` calibration needs for the state inputs."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    h = c = np.zeros((1, 1, 32), np.float32)
    hs, cs = [], []
    for f in frames:
        hs.append(h)
        cs.append(c)
        _, h, c = sess.run(None, {"x": f[None, None], "h": h, "c": c})
    return np.stack(hs), np.stack(cs)


def step_data(x: np.ndarray, work: Path, utterances: int = 20) -> tuple[Path, Path]:
    """Calibration (frames of ``utterances`` utterances and their recorded states) and a
    100-frame test stream for the step model."""
    frames = x[:utterances].reshape(-1, 10)
    h, c = record_states(MODELS / "lstm_kws_step.onnx", frames)
    np.savez(work / "step_calib.npz", x=frames[:, None, None], h=h, c=c)
    np.savez(work / "step_test.npz", x=x[400:403].reshape(-1, 10)[:100, None, None])
    return work / "step_calib.npz", work / "step_test.npz"


def stream(x: np.ndarray, work: Path) -> dict[str, float]:
    calib, test = step_data(x, work)
    qcompile.compile(MODELS / "lstm_kws_step.onnx", work / "step", calib=calib, stateful=STATEFUL)
    checked = verify(work / "step", data=test)
    return {
        "bit_exact": checked.bit_exact,
        "n": checked.samples,
        "verify": checked.outputs[0].sqnr_db,
        "eval": evaluate(work / "step", test).sqnr_db,
    }


def m7_instructions(x: np.ndarray, work: Path) -> dict[str, int]:
    """Median QEMU instructions on cortex-m7 (default kernel family): the whole 49-frame model
    (all layers and the LSTM layers alone) and one call of the stateful step model."""
    from qcompile.targets import load_target
    from qcompile.tools.firmware.bench import bench

    target = load_target("cortex-m7")
    np.savez(work / "calib.npz", x=x[:200])
    whole = qcompile.compile(MODELS / "lstm_kws.onnx", work / "m7", calib=work / "calib.npz", target="cortex-m7")
    fam = bench(work / "m7", target, inputs=[whole.quantize(x[400:401])]).families[0]
    lstm = sum(n for layer, n in zip(fam.layers, fam.layer_instructions, strict=True) if layer["op"] == "lstm")
    calib, test = step_data(x, work)
    step = qcompile.compile(
        MODELS / "lstm_kws_step.onnx", work / "m7s", calib=calib, stateful=STATEFUL, target="cortex-m7"
    )
    fam_step = bench(work / "m7s", target, inputs=[step.quantize(np.load(test)["x"][:8])]).families[0]
    return {"sequence": fam.total_instructions, "lstm": lstm, "step": fam_step.total_instructions, "exact": fam.bit_exact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m7", action="store_true", help="also count cortex-m7 instructions under QEMU")
    args = parser.parse_args()
    x = kws_frames()
    with tempfile.TemporaryDirectory() as tmp:
        for name in WHOLE:
            r = whole_utterance(x, Path(tmp), MODELS / f"{name}.onnx")
            print(f"{name}.onnx, 100 utterances: bit-exact {r['bit_exact']}/{r['n']}")
            print(f"  output SQNR vs float: qcompile {r['qcompile']:.2f} dB, ORT quantize_static QDQ {r['ort_qdq']:.2f} dB")
        st = stream(x, Path(tmp))
        print(f"lstm_kws_step.onnx --stateful h=h_next c=c_next, 100 steps: bit-exact {st['bit_exact']}/{st['n']}")
        print(f"  output SQNR vs float stream: verify {st['verify']:.2f} dB, eval {st['eval']:.2f} dB")
        if args.m7:
            m7 = m7_instructions(x, Path(tmp))
            print(
                f"cortex-m7 (QEMU): lstm_kws.onnx {m7['sequence']:,} instructions per 49-frame sequence "
                f"(LSTM {m7['lstm']:,}, {m7['lstm'] / 49:,.0f} per step; bit-exact {m7['exact']}); "
                f"step model {m7['step']:,} per call"
            )


if __name__ == "__main__":
    main()
