"""Write ``streaming_kws.tflite``: a small int8 streaming keyword-spotting model, built the way
the TFLite converter writes streaming Keras models (run it from the repository root:
``python3 tests/data/streaming/make_streaming_kws.py``; needs ``tflite_micro``).

One call is one step: it takes one MFCC frame ``[1, 1, 10]`` and keeps the past frames in
resource variables, as a streaming Keras model keeps ring buffers in ``tf.Variable``s:

- subgraph 1 (run once by CALL_ONCE) sets both ring buffers to the activations' zero point;
- ``ring1`` holds the last 3 frames: CONCATENATION with the new frame gives a 4-frame window,
  STRIDED_SLICE drops the oldest frame and ASSIGN_VARIABLE stores the rest;
- a CONV_2D (4 frames x 3 coefficients, 8 channels, RELU) runs on the window;
- ``ring2`` holds its last 2 outputs: CONCATENATION, then SPLIT_V into the oldest row (dropped)
  and the 2 rows kept for the next step;
- FULLY_CONNECTED over the 3-row window, SOFTMAX, and a QUANTIZE int8 -> uint8 output (as
  converted models with ``inference_output_type=tf.uint8`` end).

Weights are random (seeded): the point is the operators and the state, not accuracy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.tflite_builder import ModelBuilder  # noqa: E402

OUT = Path(__file__).with_name("streaming_kws.tflite")


def build() -> bytes:
    rng = np.random.default_rng(13)
    b = ModelBuilder()
    s_in, z_in = 0.05, -3
    s_c, z_c = 0.04, -128
    i32 = "int32"
    frame = b.tensor("frame", [1, 1, 10], scale=s_in, zero_point=z_in)
    b.inputs = [frame]

    init = b.subgraph()
    for name, shape, zp in (("ring1", [1, 3, 10], z_in), ("ring2", [1, 2, 64], z_c)):
        handle = init.tensor(f"{name}_handle", [], "resource")
        value = init.tensor(f"{name}_init", shape, data=np.full(shape, zp, np.int8), scale=1.0, zero_point=0)
        init.op("VAR_HANDLE", [], [handle], "VarHandleOptions", container="", sharedName=name)
        init.op("ASSIGN_VARIABLE", [handle, value], [], "AssignVariableOptions")
    b.op("CALL_ONCE", [], [], "CallOnceOptions", initSubgraphIndex=1)

    h1 = b.tensor("ring1_handle", [], "resource")
    b.op("VAR_HANDLE", [], [h1], "VarHandleOptions", container="", sharedName="ring1")
    past1 = b.tensor("ring1_read", [1, 3, 10], scale=s_in, zero_point=z_in)
    b.op("READ_VARIABLE", [h1], [past1], "ReadVariableOptions")
    window1 = b.tensor("window1", [1, 4, 10], scale=s_in, zero_point=z_in)
    b.op("CONCATENATION", [past1, frame], [window1], "ConcatenationOptions", axis=1)
    begin = b.tensor("begin", [3], i32, data=np.array([0, 1, 0], np.int32))
    end = b.tensor("end", [3], i32, data=np.array([0, 4, 0], np.int32))
    strides = b.tensor("strides", [3], i32, data=np.array([1, 1, 1], np.int32))
    next1 = b.tensor("ring1_next", [1, 3, 10], scale=s_in, zero_point=z_in)
    b.op("STRIDED_SLICE", [window1, begin, end, strides], [next1], "StridedSliceOptions", beginMask=5, endMask=5)
    b.op("ASSIGN_VARIABLE", [h1, next1], [], "AssignVariableOptions")

    img_shape = b.tensor("img_shape", [4], i32, data=np.array([1, 4, 10, 1], np.int32))
    img = b.tensor("window1_img", [1, 4, 10, 1], scale=s_in, zero_point=z_in)
    b.op("RESHAPE", [window1, img_shape], [img], "ReshapeOptions", newShape=[1, 4, 10, 1])
    w_scales = rng.uniform(0.004, 0.01, 8)
    w = b.tensor("conv_w", [8, 4, 3, 1], data=rng.integers(-127, 128, (8, 4, 3, 1)), scale=w_scales, axis=0)
    bias = b.tensor("conv_b", [8], i32, data=rng.integers(-300, 300, 8), scale=w_scales * s_in, axis=0)
    conv = b.tensor("conv", [1, 1, 8, 8], scale=s_c, zero_point=z_c)
    b.op("CONV_2D", [img, w, bias], [conv], "Conv2DOptions", padding=1, strideW=1, strideH=1, fusedActivationFunction=1)
    row_shape = b.tensor("row_shape", [3], i32, data=np.array([1, 1, 64], np.int32))
    row = b.tensor("conv_row", [1, 1, 64], scale=s_c, zero_point=z_c)
    b.op("RESHAPE", [conv, row_shape], [row], "ReshapeOptions", newShape=[1, 1, 64])

    h2 = b.tensor("ring2_handle", [], "resource")
    b.op("VAR_HANDLE", [], [h2], "VarHandleOptions", container="", sharedName="ring2")
    past2 = b.tensor("ring2_read", [1, 2, 64], scale=s_c, zero_point=z_c)
    b.op("READ_VARIABLE", [h2], [past2], "ReadVariableOptions")
    window2 = b.tensor("window2", [1, 3, 64], scale=s_c, zero_point=z_c)
    b.op("CONCATENATION", [past2, row], [window2], "ConcatenationOptions", axis=1)
    splits = b.tensor("splits", [2], i32, data=np.array([1, -1], np.int32))
    axis = b.tensor("axis", [], i32, data=np.array(1, np.int32))
    oldest = b.tensor("oldest", [1, 1, 64], scale=s_c, zero_point=z_c)
    next2 = b.tensor("ring2_next", [1, 2, 64], scale=s_c, zero_point=z_c)
    b.op("SPLIT_V", [window2, splits, axis], [oldest, next2], "SplitVOptions", numSplits=2)
    b.op("ASSIGN_VARIABLE", [h2, next2], [], "AssignVariableOptions")

    flat_shape = b.tensor("flat_shape", [2], i32, data=np.array([1, 192], np.int32))
    flat = b.tensor("window2_flat", [1, 192], scale=s_c, zero_point=z_c)
    b.op("RESHAPE", [window2, flat_shape], [flat], "ReshapeOptions", newShape=[1, 192])
    fc_w = b.tensor("fc_w", [4, 192], data=rng.integers(-127, 128, (4, 192)), scale=0.002)
    fc_b = b.tensor("fc_b", [4], i32, data=rng.integers(-500, 500, 4), scale=0.002 * s_c)
    logits = b.tensor("logits", [1, 4], scale=0.15, zero_point=2)
    b.op("FULLY_CONNECTED", [flat, fc_w, fc_b], [logits], "FullyConnectedOptions")
    probs = b.tensor("probs", [1, 4], scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [logits], [probs], "SoftmaxOptions", beta=1.0)
    out = b.tensor("probs_uint8", [1, 4], "uint8", scale=1 / 256, zero_point=0)
    b.op("QUANTIZE", [probs], [out])
    b.outputs = [out]
    return b.finish()


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
