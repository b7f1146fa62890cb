"""LSTM keyword models: qcompile's int8 ONNX LSTM against ONNX Runtime's ``quantize_static``, the
``--stateful`` stream, and Cortex-M7 instructions under QEMU.

The PyTorch models of ``tests/data/lstm`` (``make_lstm_kws.py``: 10 MFCC -> 32 hidden, a linear
head over the last state; forward, bidirectional, two layers) are measured as bench_gru.py
measures the GRU (``bench_gru.whole_utterance``: calibrated on the first 200 shared KWS
utterances, tested on the last 100, output SQNR against onnxruntime float, ORT's per-channel
QDQ model run exactly). Then ``lstm_kws_step.onnx`` one frame per call with
``--stateful h=h_next --stateful c=c_next`` over 100 frames, and with ``--m7`` the instructions
per sequence and per step of ``lstm_kws.onnx`` and of the step model on cortex-m7 (QEMU icount).
``--budget``: ``lstm_kws.onnx``'s output SQNR with one int8 rounding at a time in an otherwise
float LSTM (the hidden state fed back, the input, the weights with TFLM's one scale per gate
matrix or one per row), next to qcompile's: where the gap to ORT's float-LSTM QDQ model comes from.

Usage: ``python3 bench/bench_lstm.py [--m7 | --budget]`` (needs ``../shared/data/kws_mfcc_dev500.npz``).
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
    the recorded states ``--stateful`` calibration needs for the state inputs, each ``[1, 1, 32]``."""
    from qcompile.quant.stateful import run_stream

    states, _ = run_stream(model, {"x": frames[:, None, None]}, STATEFUL)
    return states["h"][:, None], states["c"][:, None]


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


def m7_instructions(x: np.ndarray, work: Path) -> dict[str, dict[str, int]]:
    """Median QEMU instructions on cortex-m7 per kernel family (portable, then the target's
    dsp): the whole 49-frame model (all layers and the LSTM layers alone) and one call of the
    stateful step model."""
    from qcompile.targets import load_target
    from qcompile.tools.firmware.bench import bench

    target = load_target("cortex-m7")
    np.savez(work / "calib.npz", x=x[:200])
    whole = qcompile.compile(MODELS / "lstm_kws.onnx", work / "m7", calib=work / "calib.npz", target="cortex-m7")
    fams = bench(work / "m7", target, inputs=[whole.quantize(x[400:401])]).families
    calib, test = step_data(x, work)
    step = qcompile.compile(
        MODELS / "lstm_kws_step.onnx", work / "m7s", calib=calib, stateful=STATEFUL, target="cortex-m7"
    )
    x_in = step.graph.tensors[step.graph.user_inputs[0]]  # the state inputs are not the caller's
    frames = x_in.quant.quantize(np.load(test)["x"][:8].reshape(8, *x_in.shape[1:]))
    steps = {f.family: f for f in bench(work / "m7s", target, inputs=[frames]).families}
    out = {}
    for fam in fams:
        lstm = sum(n for layer, n in zip(fam.layers, fam.layer_instructions, strict=True) if layer["op"] == "lstm")
        out[fam.family] = {
            "sequence": fam.total_instructions,
            "lstm": lstm,
            "step": steps[fam.family].total_instructions,
            "exact": fam.bit_exact,
            "step_exact": steps[fam.family].bit_exact,
        }
    return out


def _fake_quant(v: np.ndarray, scale, zero_point: int = 0, lo: int = -127, hi: int = 127) -> np.ndarray:
    return (np.clip(np.round(v / scale) + zero_point, lo, hi) - zero_point) * scale


def _gate_weights(m: np.ndarray, hidden: int, per_row: bool) -> np.ndarray:
    """int8 fake-quantized ``[4H, K]``: one scale per gate matrix (TFLM's) or per row."""
    blocks = m.reshape(4, hidden, -1)
    axes = (2,) if per_row else (1, 2)
    scale = np.abs(blocks).max(axis=axes, keepdims=True) / 127.0
    return _fake_quant(blocks, scale).reshape(m.shape)


def _float_lstm_kws(onnx_model, xs: np.ndarray, *, weights: str = "float", hx=None, qx=None) -> np.ndarray:
    """``lstm_kws.onnx`` computed in float with chosen parts rounded as int8: the weights
    ("gate": one scale per gate matrix, "row": per row), the input ``qx`` and the hidden state
    fed back every step ``hx`` (scale, zero point); the logits of every sample."""
    from onnx import numpy_helper

    init = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx_model.graph.initializer}
    node = next(n for n in onnx_model.graph.node if n.op_type == "LSTM")
    w, r, b = (init[n][0] for n in node.input[1:4])
    hidden = r.shape[1]
    if weights != "float":
        w, r = _gate_weights(w, hidden, weights == "row"), _gate_weights(r, hidden, weights == "row")
    bias = b[: 4 * hidden] + b[4 * hidden :]
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    h, c = np.zeros((len(xs), hidden)), np.zeros((len(xs), hidden))
    xs = xs if qx is None else _fake_quant(xs, qx[0], qx[1], -128, 127)
    for t in range(xs.shape[1]):
        g = xs[:, t] @ w.T + h @ r.T + bias  # ONNX gate blocks i, o, f, c
        i, o, f = sig(g[:, :hidden]), sig(g[:, hidden : 2 * hidden]), sig(g[:, 2 * hidden : 3 * hidden])
        c = f * c + i * np.tanh(g[:, 3 * hidden :])
        h = o * np.tanh(c)
        h = h if hx is None else _fake_quant(h, hx[0], hx[1], -128, 127)
    return h @ init["fc.weight"].T + init["fc.bias"]


def error_budget(x: np.ndarray, work: Path) -> dict[str, float]:
    """Output SQNR of ``lstm_kws.onnx`` against float with one source of int8 error at a time
    (float arithmetic otherwise), next to qcompile's all-integer build: where the dB go."""
    import onnx

    from qcompile.tools.verify import sqnr_db

    model = onnx.load(str(MODELS / "lstm_kws.onnx"))
    np.savez(work / "calib.npz", x=x[:200])
    compiled = qcompile.compile(MODELS / "lstm_kws.onnx", work / "budget", calib=work / "calib.npz")
    node = next(n for n in compiled.graph.nodes if n.op == "lstm")
    qx, qh = (compiled.graph.tensors[node.inputs[0]].quant, compiled.graph.tensors[node.outputs[0]].quant)
    hx, xq = (float(qh.scale), int(qh.zero_point)), (float(qx.scale), int(qx.zero_point))
    test = x[400:].astype(np.float64)
    ref = _float_lstm_kws(model, test)
    ours = compiled.dequantize(compiled.run(compiled.quantize(x[400:]))).reshape(len(test), -1)
    return {
        "int8 hidden state fed back": sqnr_db(ref, _float_lstm_kws(model, test, hx=hx)),
        "+ int8 input": sqnr_db(ref, _float_lstm_kws(model, test, hx=hx, qx=xq)),
        "int8 weights, one scale per gate (TFLM)": sqnr_db(ref, _float_lstm_kws(model, test, weights="gate")),
        "int8 weights, one scale per row": sqnr_db(ref, _float_lstm_kws(model, test, weights="row")),
        "per-gate weights + int8 input + hidden": sqnr_db(
            ref, _float_lstm_kws(model, test, weights="gate", hx=hx, qx=xq)
        ),
        "per-row weights + int8 input + hidden": sqnr_db(
            ref, _float_lstm_kws(model, test, weights="row", hx=hx, qx=xq)
        ),
        "qcompile (all integer)": sqnr_db(ref, ours),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m7", action="store_true", help="also count cortex-m7 instructions under QEMU")
    parser.add_argument("--budget", action="store_true", help="only the error budget of lstm_kws.onnx")
    args = parser.parse_args()
    x = kws_frames()
    with tempfile.TemporaryDirectory() as tmp:
        if args.budget:
            for what, db in error_budget(x, Path(tmp)).items():
                print(f"  {what:45s} {db:6.2f} dB")
            return
        for name in WHOLE:
            r = whole_utterance(x, Path(tmp), MODELS / f"{name}.onnx")
            print(f"{name}.onnx, 100 utterances: bit-exact {r['bit_exact']}/{r['n']}")
            print(
                f"  output SQNR vs float: qcompile {r['qcompile']:.2f} dB, ORT quantize_static QDQ {r['ort_qdq']:.2f} dB"
            )
        st = stream(x, Path(tmp))
        print(f"lstm_kws_step.onnx --stateful h=h_next c=c_next, 100 steps: bit-exact {st['bit_exact']}/{st['n']}")
        print(f"  output SQNR vs float stream: verify {st['verify']:.2f} dB, eval {st['eval']:.2f} dB")
        if args.m7:
            for family, m7 in m7_instructions(x, Path(tmp)).items():
                print(
                    f"cortex-m7 (QEMU, {family}): lstm_kws.onnx {m7['sequence']:,} instructions per 49-frame "
                    f"sequence (LSTM {m7['lstm']:,}, {m7['lstm'] / 49:,.0f} per step; bit-exact {m7['exact']}); "
                    f"step model {m7['step']:,} per call (bit-exact {m7['step_exact']})"
                )


if __name__ == "__main__":
    main()
