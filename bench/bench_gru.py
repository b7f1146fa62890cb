"""GRU keyword model: qcompile's int8 GRU against ONNX Runtime's ``quantize_static``.

``tests/data/gru/gru_kws.onnx`` (a PyTorch ``nn.GRU`` 10 -> 32 and a linear head over the last
state, written by ``tests/data/gru/make_gru_kws.py``) calibrated on the first 200 shared KWS
samples (MFCC / 10, as the model was trained) and evaluated on the last 100: output SQNR against
the float model (onnxruntime) of qcompile's int8 build, and of ONNX Runtime's per-channel QDQ
model (``bench_quant.ort_qdq_model``: MinMax, int8 activations) run exactly (optimisations off).
ONNX Runtime has no quantized GRU: its QDQ model keeps the GRU in float and quantizes the tensors
around it, so it is an upper bound qcompile's all-integer GRU is measured against.
Then the streaming export (``gru_kws_step.onnx``, ``--stateful h=h_next``): int8 stream vs the
float model stepped with its own state, over 100 frames.

Usage: ``python3 bench/bench_gru.py`` (needs ``../shared/data/kws_mfcc_dev500.npz``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[len(sys.path) :] = [str(ROOT / "bench"), str(ROOT / "toolchain")]

from bench_quant import SHARED, _ort_run, ort_qdq_model  # noqa: E402

import qcompile  # noqa: E402
from qcompile.tools.evaluate import evaluate  # noqa: E402
from qcompile.tools.verify import sqnr_db, verify  # noqa: E402

MODELS = ROOT / "tests" / "data" / "gru"


def kws_frames() -> np.ndarray:
    """The 500 shared utterances as the GRU models take them: ``[500, 49, 10]`` MFCC / 10."""
    d = np.load(SHARED / "data" / "kws_mfcc_dev500.npz")
    x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"]) / 10.0
    return x


def whole_utterance(x: np.ndarray, work: Path, name: str = "gru_kws") -> dict[str, float]:
    """``MODELS/<name>.onnx`` on whole utterances: qcompile's int8 build and ORT's QDQ model."""
    model = MODELS / f"{name}.onnx"
    calib, test = x[:200], x[400:]
    np.savez(work / "calib.npz", x=calib)
    np.savez(work / "test.npz", x=test)
    compiled = qcompile.compile(model, work / name, calib=work / "calib.npz")
    ours = compiled.dequantize(compiled.run(compiled.quantize(test))).reshape(len(test), -1)
    ref = _ort_run(model, test).reshape(len(test), -1)
    qdq = ort_qdq_model(model, calib, work / f"{name}_qdq.onnx")
    ort_int8 = _ort_run(qdq, test, optimize=False).reshape(len(test), -1)
    checked = verify(work / name, data=work / "test.npz")
    return {
        "qcompile": sqnr_db(ref, ours),
        "ort_qdq": sqnr_db(ref, ort_int8),
        "bit_exact": checked.bit_exact,
        "n": checked.samples,
    }


def record_states(model: Path, frames: np.ndarray) -> np.ndarray:
    """The float state ``h`` before each frame of one stream (zeros first) of the step model:
    the recorded states ``--stateful`` calibration needs for the state input."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    h, states = np.zeros((1, 1, 32), np.float32), []
    for f in frames:
        states.append(h)
        _, h = sess.run(None, {"x": f[None, None], "h": h})
    return np.stack(states)


def stream(x: np.ndarray, work: Path) -> dict[str, float]:
    """``--stateful h=h_next``: calibrated on recorded states of 20 utterances, run on 100 frames."""
    model = MODELS / "gru_kws_step.onnx"
    frames = x[:20].reshape(-1, 10)
    np.savez(work / "step_calib.npz", x=frames[:, None, None], h=record_states(model, frames))
    np.savez(work / "step_test.npz", x=x[400:403].reshape(-1, 10)[:100, None, None])
    qcompile.compile(model, work / "step", calib=work / "step_calib.npz", stateful=[("h", "h_next")])
    checked = verify(work / "step", data=work / "step_test.npz")
    ev = evaluate(work / "step", work / "step_test.npz")
    return {
        "bit_exact": checked.bit_exact,
        "n": checked.samples,
        "verify": checked.outputs[0].sqnr_db,
        "eval": ev.sqnr_db,
    }


def main() -> None:
    x = kws_frames()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("gru_kws", "gru_bidir"):
            whole = whole_utterance(x, Path(tmp), name)
            print(f"{name}.onnx, 100 utterances: bit-exact {whole['bit_exact']}/{whole['n']}")
            print(
                f"  output SQNR vs float: qcompile {whole['qcompile']:.2f} dB, "
                f"ORT quantize_static QDQ {whole['ort_qdq']:.2f} dB"
            )
        st = stream(x, Path(tmp))
        print(f"gru_kws_step.onnx --stateful h=h_next, 100 steps: bit-exact {st['bit_exact']}/{st['n']}")
        print(f"  output SQNR vs float stream: verify {st['verify']:.2f} dB, eval {st['eval']:.2f} dB")


if __name__ == "__main__":
    main()
