"""Does the LSTM's calibration of its internals leave accuracy on the table? ``lstm_kws.onnx``
(bench_lstm.py's protocol: calibrated on the first 200 shared KWS utterances, tested on the last
100, output SQNR against onnxruntime float) compiled with alternative choices of the int16 cell
state scale and of the int8 hidden state range, next to the ceiling the int8 output grid alone
allows (the float model's outputs rounded to qcompile's output parameters).

Usage: ``python3 bench/lstm_calib_study.py`` (needs ``../shared/data/kws_mfcc_dev500.npz``).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[len(sys.path) :] = [str(ROOT / "bench"), str(ROOT / "toolchain")]

from bench_gru import kws_frames  # noqa: E402
from bench_quant import _ort_run  # noqa: E402

import qcompile  # noqa: E402
from qcompile.ir import QuantParams  # noqa: E402
from qcompile.quant.converters import lstm as lstm_conv  # noqa: E402
from qcompile.quant.quantize import activation_params  # noqa: E402
from qcompile.tools.verify import sqnr_db  # noqa: E402

MODEL = ROOT / "tests" / "data" / "lstm" / "lstm_kws.onnx"


def _cell_times(factor: float) -> Callable[[float, float], QuantParams]:
    def params(lo: float, hi: float) -> QuantParams:
        q = lstm_conv.CELL_DEFAULT(lo, hi)
        return QuantParams(np.float64(float(q.scale) * factor), np.int64(0), dtype="int16")

    return params


def _hidden_full(lo: float, hi: float) -> QuantParams:
    return activation_params(-1.0, 1.0)  # tanh(c) * o is in (-1, 1): the whole range, never calibrated


def _run(x: np.ndarray, work: Path, ref: np.ndarray) -> tuple[float, float]:
    """(qcompile's output SQNR, the SQNR of the float outputs rounded to its int8 output grid)."""
    calib, test = x[:200], x[400:]
    np.savez(work / "calib.npz", x=calib)
    compiled = qcompile.compile(MODEL, work / "out", calib=work / "calib.npz")
    ours = compiled.dequantize(compiled.run(compiled.quantize(test))).reshape(len(test), -1)
    out = compiled.outputs[0]
    q = np.clip(np.round(ref / out.scale) + out.zero_point, -128, 127)
    return sqnr_db(ref, ours), sqnr_db(ref, (q - out.zero_point) * out.scale)


def main() -> None:
    x = kws_frames()
    ref = _ort_run(MODEL, x[400:]).reshape(100, -1)
    lstm_conv.CELL_DEFAULT = lstm_conv.cell_params
    variants = {
        "as shipped (cell 2^ceil(log2 max|c|), hidden min/max)": (lstm_conv.cell_params, lstm_conv._hidden_params),
        "cell scale / 2 (max |c| clipped)": (_cell_times(0.5), lstm_conv._hidden_params),
        "cell scale x 2": (_cell_times(2.0), lstm_conv._hidden_params),
        "cell scale x 4": (_cell_times(4.0), lstm_conv._hidden_params),
        "hidden range [-1, 1]": (lstm_conv.cell_params, _hidden_full),
    }
    for label, (cell, hidden) in variants.items():
        lstm_conv.cell_params, lstm_conv._hidden_params = cell, hidden
        with tempfile.TemporaryDirectory() as tmp:
            ours, grid = _run(x, Path(tmp), ref)
        print(f"  {label:58s} {ours:6.2f} dB   (int8 output grid alone: {grid:.2f} dB)")


if __name__ == "__main__":
    main()
