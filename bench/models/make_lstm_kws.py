"""Builds lstm_kws.tflite: one int8 UNIDIRECTIONAL_SEQUENCE_LSTM over a keyword-spotting frame
sequence (49 MFCC frames of 10 coefficients, 32 hidden units, batch 1), the shape of the
LSTM KWS models in the literature, with random int8 weights and TFLM's int16 cell state at
2^-11. Used by `qcompile bench` for the Cortex-M7 instructions per step of the LSTM kernel
(docs/QUANTIZATION.md, "LSTM"). Run: python3 bench/models/make_lstm_kws.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from tflite_lstm_model import lstm_model  # noqa: E402

if __name__ == "__main__":
    out = HERE / "lstm_kws.tflite"
    out.write_bytes(lstm_model(seed=2026, batch=1, steps=49, inputs=10, hidden=32, cell_clip=3.0))
    print(f"wrote {out}")
