"""Per-layer records of what TensorFlow Lite Micro computes on a .tflite model.

Why: qcompile claims its int8 arithmetic is TFLM's bit for bit. The only convincing
evidence is to feed each of our reference kernels the exact int8 tensors TFLM fed its
kernel and compare with what TFLM produced, layer by layer. This module collects those
tensors, and everything needed to derive our kernels' integer attributes, without
depending on qcompile at all (so it also serves tests of other tools).

Sources, each used for what it is authoritative on:

- activations: the TFLM Python interpreter (``tflite_micro.runtime``) with
  ``InterpreterConfig.kPreserveAllTensors``, read back with ``GetTensor`` after each
  invocation: these are the values TFLM's reference kernels produced;
- quantization parameters and constant tensors (weights, biases, shape operands):
  LiteRT's ``Interpreter.get_tensor_details()`` / ``get_tensor()``;
- builtin op options (padding, strides, fused activation, ...): the flatbuffer itself,
  parsed with the schema module that ships inside ``tflite_micro`` (no extra package).

Test helper only: it needs ``tflite_micro`` and ``ai_edge_litert``, which are not
runtime dependencies of qcompile.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def _plain(value: Any) -> Any:
    """Schema option values as plain Python (numpy scalars and arrays to int/float/list)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _options(op: Any, schema: Any) -> dict[str, Any]:
    """The op's builtin options as a dict keyed by the schema's field names (camelCase),
    with the ``padding`` and ``fusedActivationFunction`` enums replaced by their names
    ("SAME"/"VALID", "NONE"/"RELU"/"RELU6"/...)."""
    opts = op.builtinOptions
    if opts is None:
        return {}
    out = {k: _plain(v) for k, v in vars(opts).items()}
    if "padding" in out:
        out["padding"] = _enum_names(schema.Padding)[out["padding"]]
    if "fusedActivationFunction" in out:
        out["fusedActivationFunction"] = _enum_names(schema.ActivationFunctionType)[out["fusedActivationFunction"]]
    return out


def _tensor_info(detail: dict[str, Any]) -> dict[str, Any]:
    qp = detail["quantization_parameters"]
    return {
        "name": detail["name"],
        "shape": tuple(int(d) for d in detail["shape"]),
        "dtype": np.dtype(detail["dtype"]),
        # float32 exactly as stored in the flatbuffer: TFLM reads them as float.
        "scales": np.asarray(qp["scales"], dtype=np.float32),
        "zero_points": np.asarray(qp["zero_points"], dtype=np.int64),
        "quantized_dimension": int(qp["quantized_dimension"]),
    }


def _as_samples(inputs: np.ndarray | Sequence[np.ndarray], in_shape: tuple[int, ...]) -> list[np.ndarray]:
    """One int8 array of exactly ``in_shape`` per inference.

    Accepts a sequence of arrays, or one array whose leading axis enumerates samples
    (``[S, *in_shape]`` or, for a batch-1 model, ``[S, *in_shape[1:]]``).
    """
    if isinstance(inputs, np.ndarray):
        if inputs.shape == in_shape:
            items = [inputs]
        elif inputs.shape[1:] in (in_shape, in_shape[1:]):
            items = list(inputs)
        else:
            raise ValueError(f"inputs of shape {inputs.shape} do not hold samples of shape {in_shape}")
    else:
        items = list(inputs)
    samples = []
    for item in items:
        arr = np.asarray(item)
        if arr.dtype != np.int8:
            raise ValueError(f"inputs must be int8 (already quantized), got {arr.dtype}")
        if arr.size != int(np.prod(in_shape)):
            raise ValueError(f"input sample of shape {arr.shape} does not fit the model input {in_shape}")
        samples.append(arr.reshape(in_shape))
    if not samples:
        raise ValueError("no input samples")
    return samples


def tflm_layer_records(tflite_path: str | Path, inputs: np.ndarray | Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """Run a single-input int8 model through TFLM and describe every op of subgraph 0.

    ``inputs``: int8 samples for the model's input (see ``_as_samples``); each is one
    ``invoke()``. Returns one dict per op, in execution order, with keys:

    - ``index`` (int), ``op`` (builtin name, e.g. ``"CONV_2D"``), ``version`` (op version);
    - ``options``: builtin options (schema field names, enums as names; ``{}`` if none);
    - ``inputs`` / ``outputs``: tensor indices (``-1`` for an omitted optional input);
    - ``input_details`` / ``output_details``: per tensor (``None`` for ``-1``) a dict with
      ``name``, ``shape``, ``dtype``, ``scales`` (float32 array), ``zero_points`` (int64
      array) and ``quantized_dimension``;
    - ``constants``: ``{tensor index: array}`` for the inputs stored in the model
      (weights, bias, shape operands), read through LiteRT;
    - ``input_values`` / ``output_values``: per tensor, what TFLM held in it; the samples
      are concatenated along the tensor's first axis (batch-1 models give a batch of S).
      Constant inputs repeat the constant once (not per sample); ``-1`` gives ``None``.
    """
    from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter
    from tflite_micro import runtime as tflm

    tflite_path = Path(tflite_path)
    model_bytes = tflite_path.read_bytes()
    schema = tflm.schema_fb
    model = tflm.convert_bytearray_to_object(bytearray(model_bytes))
    if len(model.subgraphs) != 1:
        raise ValueError(
            f"{tflite_path} has {len(model.subgraphs)} subgraphs; only single-subgraph models are supported"
        )
    subgraph = model.subgraphs[0]
    if len(subgraph.inputs) != 1:
        raise ValueError(f"{tflite_path} has {len(subgraph.inputs)} inputs; only single-input models are supported")
    op_names = _enum_names(schema.BuiltinOperator)

    def is_constant(index: int) -> bool:
        tensor = subgraph.tensors[index]
        data = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
        return data is not None and len(data) > 0

    with warnings.catch_warnings():
        # LiteRT warns that preserving all tensors is a debugging feature; that is the point.
        warnings.simplefilter("ignore", UserWarning)
        litert = LiteRTInterpreter(model_content=model_bytes, experimental_preserve_all_tensors=True, num_threads=1)
    litert.allocate_tensors()
    details = {int(d["index"]): _tensor_info(d) for d in litert.get_tensor_details()}

    in_index = int(subgraph.inputs[0])
    samples = _as_samples(inputs, details[in_index]["shape"])
    interpreter = tflm.Interpreter.from_bytes(
        model_bytes, intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors
    )
    activation_indices = sorted(
        {
            int(i)
            for op in subgraph.operators
            for i in list(op.inputs) + list(op.outputs)
            if i >= 0 and not is_constant(i)
        }
    )
    per_tensor: dict[int, list[np.ndarray]] = {i: [] for i in activation_indices}
    for sample in samples:
        interpreter.set_input(sample, 0)
        interpreter.invoke()
        for i in activation_indices:
            per_tensor[i].append(np.array(interpreter.GetTensor(i, 0)["tensor_data"], copy=True))
    values = {i: np.concatenate([v.reshape(details[i]["shape"]) for v in vs], axis=0) for i, vs in per_tensor.items()}

    records = []
    for op_index, op in enumerate(subgraph.operators):
        code = model.operatorCodes[op.opcodeIndex]
        op_inputs = [int(i) for i in op.inputs]
        op_outputs = [int(i) for i in op.outputs]
        constants = {i: np.array(litert.get_tensor(i), copy=True) for i in op_inputs if i >= 0 and is_constant(i)}

        def value(i: int, constants: dict[int, np.ndarray] = constants) -> np.ndarray | None:
            if i < 0:
                return None
            return constants[i] if i in constants else values[i]

        records.append(
            {
                "index": op_index,
                "op": op_names[tflm.get_builtin_code_from_operator_code(code)],
                "version": int(code.version),
                "options": _options(op, schema),
                "inputs": op_inputs,
                "outputs": op_outputs,
                "input_details": [details[i] if i >= 0 else None for i in op_inputs],
                "output_details": [details[i] for i in op_outputs],
                "constants": constants,
                "input_values": [value(i) for i in op_inputs],
                "output_values": [values[i] for i in op_outputs],
            }
        )
    return records


def tflm_outputs(tflite_path: str | Path, inputs: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """The model's first output for each sample, from TFLM's normal ``get_output`` path
    (default interpreter config), concatenated along axis 0: a cross-check that
    preserving all tensors does not change what TFLM computes."""
    from tflite_micro import runtime as tflm

    interpreter = tflm.Interpreter.from_file(str(tflite_path))
    in_shape = tuple(int(d) for d in interpreter.get_input_details(0)["shape"])
    outs = []
    for sample in _as_samples(inputs, in_shape):
        interpreter.set_input(sample, 0)
        interpreter.invoke()
        outs.append(np.array(interpreter.get_output(0), copy=True))
    return np.concatenate(outs, axis=0)


def tflm_padding(
    padding: str,
    in_hw: Sequence[int],
    out_hw: Sequence[int],
    k_hw: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int] = (1, 1),
) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` as TFLM's ``ComputePaddingHeightWidth`` pads a layer:
    VALID pads nothing; SAME pads ``total = max((out-1)*stride + (k-1)*dilation + 1 - in, 0)``,
    ``total // 2`` before (TFLM's ``padding.height``) and the rest after (``height_offset``)."""
    if padding == "VALID":
        return (0, 0, 0, 0)
    totals = [
        max((o - 1) * s + (k - 1) * d + 1 - i, 0)
        for i, o, k, s, d in zip(in_hw, out_hw, k_hw, strides, dilations, strict=True)
    ]
    return (totals[0] // 2, totals[1] // 2, totals[0] - totals[0] // 2, totals[1] - totals[1] // 2)
