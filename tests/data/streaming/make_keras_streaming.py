"""Write ``keras_streaming.tflite`` with the TFLite converter (run from the repository root:
``python3 tests/data/streaming/make_keras_streaming.py``; needs ``tensorflow-cpu``).

A streaming keyword-spotting step as streaming Keras models are written: one MFCC frame
``[1, 1, 10]`` per call; a ``tf.Variable`` ring buffer keeps the last 2 frames (concatenated
with the new one into a 3-frame window, the oldest dropped, the rest assigned back); a Keras
``Conv1D`` (8 channels, kernel 3, ReLU) on the window, ``Dense`` to 12 classes and softmax.
Converted with resource variables enabled and full-integer int8 quantization (a representative
dataset of random frames), so the file has CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE
as the converter writes them. Weights are random (seeded): the point is the state.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parent / "keras_streaming.tflite"


class Streaming(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        tf.keras.utils.set_random_seed(0)
        self.ring = tf.Variable(tf.zeros((1, 2, 10)), trainable=False, name="ring")
        self.conv = tf.keras.layers.Conv1D(8, 3, activation="relu")
        self.dense = tf.keras.layers.Dense(12)
        self.conv.build((1, 3, 10))
        self.dense.build((1, 8))
        # the trained layers' weights as constants (as a frozen streaming model has them): only
        # the ring buffer stays a resource variable
        self.weights = [tf.constant(v.numpy()) for v in (*self.conv.weights, *self.dense.weights)]

    @tf.function(input_signature=[tf.TensorSpec((1, 1, 10), tf.float32)])
    def step(self, frame: tf.Tensor) -> tf.Tensor:
        window = tf.concat([self.ring, frame], axis=1)
        self.ring.assign(window[:, 1:, :])
        conv_w, conv_b, dense_w, dense_b = self.weights
        features = tf.nn.relu(tf.reshape(tf.nn.conv1d(window, conv_w, 1, "VALID"), (1, 8)) + conv_b)
        return tf.nn.softmax(tf.matmul(features, dense_w) + dense_b)


def convert() -> bytes:
    module = Streaming()
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(200):
            yield [rng.normal(0.0, 1.0, (1, 1, 10)).astype(np.float32)]

    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.step})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        return _quantized(converter, representative)


def _quantized(converter, representative) -> bytes:
    converter.experimental_enable_resource_variables = True
    converter._experimental_variable_quantization = True  # int8 ring buffer (else it stays float)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


if __name__ == "__main__":
    OUT.write_bytes(convert())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
