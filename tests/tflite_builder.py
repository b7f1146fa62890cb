"""Build small int8 .tflite models in tests, with the schema's generated object API.

Why: the shared MLPerf models contain only CONV_2D, DEPTHWISE_CONV_2D, ADD,
AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED and SOFTMAX. Every other operator the TFLite
importer accepts (MUL, SUB, MAX_POOL_2D, MEAN, LOGISTIC, TANH, HARD_SWISH, RELU, RELU6,
PAD, CONCATENATION, QUANTIZE, ...) is proven against TFLite Micro on single-op models
built here: ``ModelT``/``SubGraphT``/``OperatorT``/``TensorT`` from the schema module that
ships inside ``tflite_micro``, packed with ``flatbuffers`` and finished with the "TFL3"
file identifier. Test helper only (needs ``tflite_micro``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

_TYPES = {
    "float32": fb.TensorType.FLOAT32,
    "int32": fb.TensorType.INT32,
    "int8": fb.TensorType.INT8,
    "int16": fb.TensorType.INT16,
    "int64": fb.TensorType.INT64,
    "uint8": fb.TensorType.UINT8,
    "resource": fb.TensorType.RESOURCE,
}
_OPTIONS_TYPE = {
    "Conv2DOptions": fb.BuiltinOptions.Conv2DOptions,
    "DepthwiseConv2DOptions": fb.BuiltinOptions.DepthwiseConv2DOptions,
    "FullyConnectedOptions": fb.BuiltinOptions.FullyConnectedOptions,
    "Pool2DOptions": fb.BuiltinOptions.Pool2DOptions,
    "AddOptions": fb.BuiltinOptions.AddOptions,
    "UnidirectionalSequenceLSTMOptions": fb.BuiltinOptions.UnidirectionalSequenceLSTMOptions,
    "SubOptions": fb.BuiltinOptions.SubOptions,
    "MulOptions": fb.BuiltinOptions.MulOptions,
    "SoftmaxOptions": fb.BuiltinOptions.SoftmaxOptions,
    "ConcatenationOptions": fb.BuiltinOptions.ConcatenationOptions,
    "ReducerOptions": fb.BuiltinOptions.ReducerOptions,
    "ReshapeOptions": fb.BuiltinOptions.ReshapeOptions,
    "SqueezeOptions": fb.BuiltinOptions.SqueezeOptions,
    "PadOptions": fb.BuiltinOptions.PadOptions,
    "BatchMatMulOptions": fb.BuiltinOptions.BatchMatMulOptions,
    "StridedSliceOptions": fb.BuiltinOptions.StridedSliceOptions,
    "SliceOptions": fb.BuiltinOptions.SliceOptions,
    "SplitOptions": fb.BuiltinOptions.SplitOptions,
    "SplitVOptions": fb.BuiltinOptions.SplitVOptions,
    "CallOnceOptions": fb.BuiltinOptions.CallOnceOptions,
    "VarHandleOptions": fb.BuiltinOptions.VarHandleOptions,
    "ReadVariableOptions": fb.BuiltinOptions.ReadVariableOptions,
    "AssignVariableOptions": fb.BuiltinOptions.AssignVariableOptions,
    "GatherOptions": fb.BuiltinOptions.GatherOptions,
    "TransposeOptions": fb.BuiltinOptions.TransposeOptions,
    "ResizeBilinearOptions": fb.BuiltinOptions.ResizeBilinearOptions,
    "ResizeNearestNeighborOptions": fb.BuiltinOptions.ResizeNearestNeighborOptions,
    "TransposeConvOptions": fb.BuiltinOptions.TransposeConvOptions,
    "DepthToSpaceOptions": fb.BuiltinOptions.DepthToSpaceOptions,
    "SpaceToDepthOptions": fb.BuiltinOptions.SpaceToDepthOptions,
}
ACT = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
PAD = {"SAME": 0, "VALID": 1}


class ModelBuilder:
    """Accumulates tensors and operators of one subgraph; ``finish()`` gives the .tflite bytes.
    ``subgraph()`` starts another subgraph of the same model (e.g. a CALL_ONCE initialisation)."""

    def __init__(self, parent: ModelBuilder | None = None) -> None:
        self.tensors: list[Any] = []
        self.buffers: list[Any] = parent.buffers if parent else [fb.BufferT()]  # buffer 0: the empty sentinel
        self.ops: list[Any] = []
        self.codes: list[int] = parent.codes if parent else []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.children: list[ModelBuilder] = []

    def subgraph(self) -> ModelBuilder:
        """A new subgraph (index 1, 2, ...) sharing this model's buffers and operator codes."""
        child = ModelBuilder(self)
        self.children.append(child)
        return child

    def _subgraph_t(self, name: str) -> Any:
        sg = fb.SubGraphT()
        sg.tensors = self.tensors
        sg.inputs = np.asarray(self.inputs, dtype=np.int32)
        sg.outputs = np.asarray(self.outputs, dtype=np.int32)
        sg.operators = self.ops
        sg.name = name
        return sg

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: str = "int8",
        *,
        scale: float | Sequence[float] | None = None,
        zero_point: int | Sequence[int] = 0,
        axis: int = 0,
        data: np.ndarray | None = None,
    ) -> int:
        t = fb.TensorT()
        t.name = name
        t.shape = np.asarray(shape, dtype=np.int32)
        t.type = _TYPES[dtype]
        if data is not None and dtype == "resource":
            raise ValueError("a resource tensor holds no data")
        if data is not None:
            buf = fb.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), dtype=np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if scale is not None:
            q = fb.QuantizationParametersT()
            scales = np.atleast_1d(np.asarray(scale, dtype=np.float32))
            zps = np.atleast_1d(np.asarray(zero_point, dtype=np.int64))
            if zps.size == 1 and scales.size > 1:
                zps = np.repeat(zps, scales.size)
            q.scale = scales
            q.zeroPoint = zps
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(
        self, code: str, inputs: Sequence[int], outputs: Sequence[int], options: str | None = None, **fields
    ) -> None:
        builtin = getattr(fb.BuiltinOperator, code)
        if builtin not in self.codes:
            self.codes.append(builtin)
        o = fb.OperatorT()
        o.opcodeIndex = self.codes.index(builtin)
        o.inputs = np.asarray(inputs, dtype=np.int32)
        o.outputs = np.asarray(outputs, dtype=np.int32)
        if options is not None:
            opts = getattr(fb, options + "T")()
            for k, v in fields.items():
                if not hasattr(opts, k):
                    raise AttributeError(f"{options} has no field {k}")
                setattr(opts, k, v)
            o.builtinOptionsType = _OPTIONS_TYPE[options]
            o.builtinOptions = opts
        self.ops.append(o)

    def finish(self) -> bytes:
        model = fb.ModelT()
        model.version = 3
        model.description = "qcompile test model"
        model.subgraphs = [self._subgraph_t("main")] + [c._subgraph_t(f"init{i}") for i, c in enumerate(self.children)]
        model.buffers = self.buffers
        codes = []
        for c in self.codes:
            oc = fb.OperatorCodeT()
            oc.builtinCode = c
            oc.deprecatedBuiltinCode = min(c, 127)
            oc.version = 1
            codes.append(oc)
        model.operatorCodes = codes
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def tflm_run(model_bytes: bytes, inputs: Sequence[np.ndarray], n_outputs: int = 1) -> list[np.ndarray]:
    """Run TFLM on samples: ``inputs[i]`` is ``[S, *model_input_shape_i]`` int8; returns
    ``[S, *model_output_shape_j]`` per output."""
    from tflite_micro import runtime as tflm

    # TFLM's default arena (10x the model) is too small for tiny models with persistent
    # buffers (the int16 softmax's two 513-entry tables)
    interpreter = tflm.Interpreter.from_bytes(model_bytes, arena_size=max(10 * len(model_bytes), 1 << 16))
    outs: list[list[np.ndarray]] = [[] for _ in range(n_outputs)]
    for s in range(len(inputs[0])):
        for i, x in enumerate(inputs):
            interpreter.set_input(x[s], i)
        interpreter.invoke()
        for j in range(n_outputs):
            outs[j].append(np.array(interpreter.get_output(j), copy=True))
    return [np.stack(o) for o in outs]
