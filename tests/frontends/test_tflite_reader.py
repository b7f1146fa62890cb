"""Our flatbuffer reader against the schema parser shipped in tflite_micro, on the MLPerf models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro is not installed")

from qcompile.errors import QCompileError  # noqa: E402
from qcompile.frontends.tflite_reader import BUILTIN_OPS, read_tflite  # noqa: E402


@pytest.mark.parametrize("which", ["resnet8", "kws"])
def test_reader_agrees_with_tflm_schema(which: str, resnet8_tflite: Path, kws_tflite: Path) -> None:
    from tflite_micro import runtime as tflm

    path = resnet8_tflite if which == "resnet8" else kws_tflite
    data = path.read_bytes()
    ours = read_tflite(data)
    ref = tflm.convert_bytearray_to_object(bytearray(data))
    sg = ref.subgraphs[0]
    assert ours.inputs == list(sg.inputs) and ours.outputs == list(sg.outputs)
    assert len(ours.tensors) == len(sg.tensors)
    for t, r in zip(ours.tensors, sg.tensors, strict=True):
        assert t.name == r.name.decode()
        assert t.shape == tuple(int(d) for d in r.shape)
        assert t.type == r.type
        if r.quantization is not None and r.quantization.scale is not None:
            np.testing.assert_array_equal(t.quant.scale, np.asarray(r.quantization.scale, dtype=np.float32))
            np.testing.assert_array_equal(t.quant.zero_point, np.asarray(r.quantization.zeroPoint))
            assert t.quant.quantized_dimension == r.quantization.quantizedDimension
        buf = ref.buffers[r.buffer].data
        if buf is not None and len(buf):
            assert t.data is not None and t.data.tobytes() == np.asarray(buf, dtype=np.uint8).tobytes()
    for op, r in zip(ours.operators, sg.operators, strict=True):
        code = tflm.get_builtin_code_from_operator_code(ref.operatorCodes[r.opcodeIndex])
        assert op.op == BUILTIN_OPS[code]
        assert op.inputs == list(r.inputs) and op.outputs == list(r.outputs)
        opts = r.builtinOptions
        if opts is not None and hasattr(opts, "strideW"):
            assert (op.options["stride_w"], op.options["stride_h"]) == (opts.strideW, opts.strideH)
        if opts is not None and hasattr(opts, "fusedActivationFunction"):
            names = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
            assert op.options["fused_activation_function"] == names[opts.fusedActivationFunction]


def test_reader_rejects_non_tflite() -> None:
    with pytest.raises(QCompileError, match="TFL3"):
        read_tflite(b"\x00" * 64)
    with pytest.raises(QCompileError):
        read_tflite(b"\x10\x00\x00\x00TFL3" + b"\xff" * 8)
