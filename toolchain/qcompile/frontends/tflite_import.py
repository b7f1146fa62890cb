"""Import an int8 .tflite model straight into the quantized IR, keeping its own quantization.

Why a second importer: most microcontroller models already exist as int8 TFLite files
run by TFLite Micro. Their quantization is part of the validated model, so nothing is
calibrated or re-derived from floats: every tensor keeps its stored float32 scale and
zero point, and every integer parameter is derived from those exactly as TFLM's
``Prepare`` derives it (multipliers from ``double(s_in) * double(s_w) / double(s_out)``,
activation bounds by ``CalculateActivationRangeQuantized``, padding by
``ComputePaddingHeightWidth``). Elementwise ops become ``lut`` tables computed with TFLM's
own integer algorithms (:mod:`qcompile.frontends.tflite_luts`), so the generated C
outputs TFLM's bits with no interpreter.

The result is the same quantized IR the ONNX path produces after ``quantize``: the
planner, code generator, verify and every C kernel are shared. QUANTIZE (float -> int8)
on a graph input and DEQUANTIZE on a graph output are dropped: the C API takes and
returns the int8 tensors (scale and zero point are in the generated header).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qcompile import op_params
from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.frontends import tflite_luts, tflite_state
from qcompile.frontends.tflite_ops import TFLITE_OPS
from qcompile.frontends.tflite_reader import TfliteModel, TfliteOperator, TfliteTensor, read_tflite
from qcompile.ir import Graph, Node, QuantParams, StateVar, Tensor
from qcompile.reference.kernels import sigmoid_s16

BUILTIN_OPS = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "ADD",
    "SUB",
    "MUL",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "MEAN",
    "RESHAPE",
    "SQUEEZE",
    "SOFTMAX",
    "LOGISTIC",
    "TANH",
    "RELU",
    "RELU6",
    "HARD_SWISH",
    "PAD",
    "PADV2",
    "CONCATENATION",
    "QUANTIZE",
    "DEQUANTIZE",
    *tflite_state.STATE_OPS,
)


def supported_ops() -> tuple[str, ...]:
    """Every TFLite builtin qcompile converts: the built-in table and the ``tflite_ops`` plug-ins."""
    return BUILTIN_OPS + tuple(op for op in TFLITE_OPS if op not in BUILTIN_OPS)


INT8 = 9
INT16 = 7
UINT8 = 3
INT32 = 2
INT64 = 4
FLOAT32 = 0
#: activation types: int8, and int16 for TFLite's 16x8 scheme (symmetric, zero point 0)
_ACT_TYPES = {INT8: "int8", INT16: "int16"}
#: operators with a 16x8 kernel (int16 activations); the others take int8 only
S16_OPS = frozenset(
    {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D"}
    | {"RESHAPE", "SQUEEZE", "PAD", "CONCATENATION", "QUANTIZE", "LOGISTIC", "TANH", "SOFTMAX", "MEAN", "SUM"}
    | {"TRANSPOSE", "STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "LEAKY_RELU", "MAXIMUM", "MINIMUM"}
    | {"BATCH_MATMUL", "PRELU", "RESIZE_NEAREST_NEIGHBOR"}
)
#: int8 operators with int16 internal state (the LSTM's cell state)
_INT16_STATE_OPS = frozenset({"UNIDIRECTIONAL_SEQUENCE_LSTM"})
_ACT_RANGES: dict[str, tuple[float | None, float | None]] = {
    "NONE": (None, None),
    "RELU": (0.0, None),
    "RELU6": (0.0, 6.0),
    "RELU_N1_TO_1": (-1.0, 1.0),
}


def load_tflite(path: str | Path) -> Graph:
    """Read ``path`` and return its quantized IR graph (NHWC, TFLite's own layout)."""
    path = Path(path)
    if not path.exists():
        raise QCompileError(f"{path}: no such file")
    try:
        model = read_tflite(path.read_bytes())
    except QCompileError as exc:
        raise QCompileError(f"{path}: {exc}") from exc
    return _Importer(path, model).run()


class _Importer:
    def __init__(self, path: Path, model: TfliteModel) -> None:
        self.path = path
        self.model = model
        self.graph = Graph(path.stem)
        self.names: dict[int, str] = {}
        self.edge_inputs: dict[int, int] = {}  # QUANTIZE output -> float graph input it replaces
        self.edge_outputs: dict[int, int] = {}  # float graph output -> int8 DEQUANTIZE input
        self.skipped: set[int] = set()
        self.inits: dict[str, np.ndarray] = {}
        self.pending_state: list[StateVar] = []  # operators' own state (LSTM variable tensors)

    # -- checks -------------------------------------------------------------------------
    def _check(self) -> None:
        """One error listing every operator (and float internal) that cannot be compiled."""
        m = self.model
        self.inits, problems = tflite_state.initial_values(m)
        graph_inputs, graph_outputs = set(m.inputs), set(m.outputs)
        for op in m.operators:
            where = f"operator {op.index} ({op.op})"
            if op.op not in supported_ops():
                problems.append(f"{where}: unsupported operator")
                continue
            if op.op in tflite_state.STATE_OPS:
                problems += tflite_state.check_op(m, op)
                continue
            if not op.outputs or not [i for i in op.inputs if i >= 0]:
                problems.append(f"{where}: the operator has no input or no output")
                continue
            ins = [m.tensors[i] for i in op.inputs if i >= 0]
            outs = [m.tensors[i] for i in op.outputs]
            if op.op == "QUANTIZE" and ins[0].type == FLOAT32:
                if op.inputs[0] not in graph_inputs or outs[0].type not in _ACT_TYPES:
                    problems.append(f"{where}: float -> int8 QUANTIZE is only supported on a graph input")
                else:
                    self.edge_inputs[op.outputs[0]] = op.inputs[0]
                    self.skipped.add(op.index)
                continue
            if op.op == "QUANTIZE" and outs[0].type == UINT8:
                if op.outputs[0] not in graph_outputs or ins[0].type != INT8 or outs[0].quant is None:
                    problems.append(f"{where}: int8 -> uint8 QUANTIZE is only supported on a graph output")
                continue
            if op.op == "DEQUANTIZE":
                if op.outputs[0] not in graph_outputs or ins[0].type not in _ACT_TYPES:
                    problems.append(f"{where}: DEQUANTIZE is only supported on a graph output")
                else:
                    self.edge_outputs[op.outputs[0]] = op.inputs[0]
                    self.skipped.add(op.index)
                continue
            activations = [t for t in ins if t.data is None] + outs
            problems += [f"{where}: {p}" for t in activations if (p := _activation_problem(op.op, t))]
        for i in m.inputs:
            t = m.tensors[i]
            if t.type not in _ACT_TYPES and not any(src == i for src in self.edge_inputs.values()):
                problems.append(f"graph input {t.name!r} is {t.type_name} and is not quantized by a QUANTIZE op")
        for i in m.inputs + m.outputs:
            t = m.tensors[i]
            if t.type in _ACT_TYPES and t.quant is None:
                problems.append(f"graph input or output {t.name!r} is {t.type_name} without quantization parameters")
        if problems:
            raise UnsupportedModelError(
                f"{self.path}: {len(problems)} problem(s) prevent compiling this model:\n  "
                + "\n  ".join(problems)
                + "\nqcompile compiles int8 TFLite models with these operators: "
                + ", ".join(supported_ops())
            )

    # -- tensors --------------------------------------------------------------------------
    def quant(self, t: TfliteTensor) -> QuantParams:
        q = t.quant
        assert q is not None
        if q.scale.size == 1:
            dtype = _ACT_TYPES.get(t.type, "int8") if t.data is None else "int8"
            return QuantParams(np.float64(q.scale[0]), np.int64(q.zero_point[0]), dtype=dtype)
        return QuantParams(q.scale.astype(np.float64), q.zero_point, axis=q.quantized_dimension)

    def name(self, index: int) -> str:
        """IR name of TFLite tensor ``index`` (created on first use)."""
        if index in self.names:
            return self.names[index]
        t = self.model.tensors[index]
        name = self.graph.unique_name(t.name or f"t{index}")
        if t.data is not None:
            data = np.ascontiguousarray(t.data)
            quant = self.quant(t) if t.quant is not None else None
            self.graph.add_tensor(
                Tensor(name, tuple(data.shape), str(data.dtype), data, quant=quant, source_name=t.name)
            )
        else:
            dtype = _ACT_TYPES.get(t.type, "int8")
            self.graph.add_tensor(Tensor(name, tuple(t.shape), dtype, quant=self.quant(t), source_name=t.name))
        self.names[index] = name
        return name

    def new_activation(self, base: str, shape: tuple[int, ...], like: str) -> str:
        name = self.graph.unique_name(base)
        src = self.graph.tensors[like]
        self.graph.add_tensor(Tensor(name, tuple(int(d) for d in shape), src.dtype, quant=src.quant))
        return name

    def add(self, op: TfliteOperator, ir_op: str, inputs: list[str], outputs: list[str], attrs: dict) -> Node:
        node_name = self.graph.unique_name(f"{op.op.lower()}_{op.index}")
        return self.graph.add_node(Node(node_name, ir_op, inputs, outputs, attrs, source_nodes=[f"{op.index}:{op.op}"]))

    # -- driver ---------------------------------------------------------------------------
    def run(self) -> Graph:
        self._check()
        m = self.model
        for i in m.inputs:
            replaced = [q for q, src in self.edge_inputs.items() if src == i]
            self.graph.inputs.append(self.name(replaced[0] if replaced else i))
        variables = tflite_state.Variables(self, self.inits)
        for op in m.operators:
            if op.index in self.skipped:
                continue
            try:
                if op.op in tflite_state.STATE_OPS:
                    variables.convert(op)
                    continue
                converter = _CONVERTERS.get(op.op) or TFLITE_OPS.get(op.op)
                assert converter is not None, op.op  # _check refused every other operator
                converter(self, op)
            except (ArithmeticError, ValueError, KeyError, IndexError, TypeError) as exc:
                raise UnsupportedModelError(f"{self.path}: operator {op.index} ({op.op}): {exc}") from exc
        for i in m.outputs:
            self.graph.outputs.append(self.name(self.edge_outputs.get(i, i)))
        for sv in self.pending_state:  # after the caller's inputs and outputs
            self.graph.inputs.append(sv.input)
            self.graph.outputs.append(sv.output)
            self.graph.state.append(sv)
        try:
            variables.finish()
        except ValueError as exc:
            raise UnsupportedModelError(f"{self.path}: {exc}") from exc
        self.graph.prune()
        self.graph.validate()
        return self.graph

    # -- helpers ---------------------------------------------------------------------------
    def t(self, index: int) -> TfliteTensor:
        return self.model.tensors[index]

    def q(self, index: int) -> QuantParams:
        return self.quant(self.t(index))

    def act_bounds(self, op: TfliteOperator, out_index: int) -> tuple[int, int]:
        act = op.options.get("fused_activation_function", "NONE")
        if act not in _ACT_RANGES:
            raise ValueError(f"fused activation {act} is not supported")
        return op_params.activation_bounds(_ACT_RANGES[act], self.q(out_index))


def _activation_problem(op: str, t: TfliteTensor) -> str | None:
    """Why activation ``t`` of a ``op`` cannot be compiled, or None."""
    if t.type not in _ACT_TYPES:
        return f"tensor {t.name!r} is {t.type_name}; only int8 and int16 (16x8) activations are supported"
    if t.quant is None:
        return f"{t.type_name} tensor {t.name!r} has no quantization parameters"
    if t.quant.scale.size != 1:
        return f"activation {t.name!r} is quantized per channel"
    if t.type == INT16 and op not in S16_OPS | _INT16_STATE_OPS:
        return f"int16 tensor {t.name!r}: {op} has no 16x8 kernel yet (16x8 operators: {', '.join(sorted(S16_OPS))})"
    if t.type == INT16 and int(t.quant.zero_point[0]) != 0:
        return f"int16 tensor {t.name!r} has zero point {int(t.quant.zero_point[0])}; 16x8 needs 0 (TFLM requires it)"
    return None


# ---- padding ---------------------------------------------------------------------------------


def _pads(padding: str, in_hw, k_hw, strides, dilations, out_hw) -> tuple[int, int, int, int]:
    """TFLM's ``ComputePaddingHeightWidth``: SAME pads ``total // 2`` before and the rest after."""
    pads = []
    for i, k, s, d, o in zip(in_hw, k_hw, strides, dilations, out_hw, strict=True):
        eff = (k - 1) * d + 1
        expected = (i + s - 1) // s if padding == "SAME" else (i - eff + s) // s
        if expected != o:
            raise ValueError(f"output size {o} does not follow from {padding} padding (expected {expected})")
        total = max((o - 1) * s + eff - i, 0) if padding == "SAME" else 0
        pads.append((total // 2, total - total // 2))
    return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])


def _weights(imp: _Importer, op: TfliteOperator, channel_axis: int) -> tuple[str, str | None, TfliteTensor]:
    w = imp.t(op.inputs[1])
    if w.data is None or w.type != INT8 or w.quant is None:
        raise ValueError("weights must be constant int8 with quantization parameters")
    if np.any(w.quant.zero_point != 0):
        raise ValueError("weights must be symmetric (zero point 0), as TFLM requires for int8")
    if w.quant.scale.size not in (1, w.shape[channel_axis]):
        raise ValueError("weight scales must be per tensor or per output channel")
    if w.quant.scale.size > 1 and w.quant.quantized_dimension != channel_axis:
        raise ValueError(f"per-channel weights must be quantized along axis {channel_axis}")
    b_name = None
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = imp.t(op.inputs[2])
        if imp.t(op.inputs[0]).type == INT16:
            int32_ok = op.op in ("CONV_2D", "FULLY_CONNECTED")  # TFLM's int32-accumulator variant
            if b.data is None or b.type not in ((INT64, INT32) if int32_ok else (INT64,)):
                raise ValueError(
                    "a 16x8 layer's bias must be a constant int64 tensor (int32 for CONV_2D and FULLY_CONNECTED)"
                )
        elif b.data is None or b.type != INT32:
            raise ValueError("bias must be a constant int32 tensor")
        b_name = imp.name(op.inputs[2])
    return imp.name(op.inputs[1]), b_name, w


def _requant_attrs(imp: _Importer, op: TfliteOperator, w: TfliteTensor, n: int) -> dict:
    in_q, out_q = imp.q(op.inputs[0]), imp.q(op.outputs[0])
    mult, shift = op_params.channel_multipliers(in_q.scalar_scale(), w.quant.scale, out_q.scalar_scale(), n)
    act_min, act_max = imp.act_bounds(op, op.outputs[0])
    return {
        "input_offset": -in_q.scalar_zero_point(),
        "output_offset": out_q.scalar_zero_point(),
        "multiplier": mult,
        "shift": shift,
        "act_min": act_min,
        "act_max": act_max,
    }


# ---- converters -----------------------------------------------------------------------------


def _conv2d(imp: _Importer, op: TfliteOperator) -> None:
    o = op.options
    w_name, b_name, w = _weights(imp, op, 0)
    x = imp.t(op.inputs[0])
    y = imp.t(op.outputs[0])
    oc, kh, kw, wc = w.shape
    if x.shape[3] % wc:
        raise ValueError(f"input channels {x.shape[3]} are not a multiple of the filter depth {wc}")
    strides = (int(o["stride_h"]), int(o["stride_w"]))
    dilations = (int(o["dilation_h_factor"]), int(o["dilation_w_factor"]))
    pads = _pads(o["padding"], x.shape[1:3], (kh, kw), strides, dilations, y.shape[1:3])
    attrs = {"strides": strides, "dilations": dilations, "pads": pads, "groups": x.shape[3] // wc}
    attrs.update(_requant_attrs(imp, op, w, oc))
    imp.add(
        op, "conv2d", [imp.name(op.inputs[0]), w_name, *([b_name] if b_name else [])], [imp.name(op.outputs[0])], attrs
    )


def _depthwise(imp: _Importer, op: TfliteOperator) -> None:
    o = op.options
    w = imp.t(op.inputs[1])
    x = imp.t(op.inputs[0])
    y = imp.t(op.outputs[0])
    if len(w.shape) != 4 or w.shape[0] != 1:
        raise ValueError(f"depthwise filter must be [1, KH, KW, OC], got {w.shape}")
    _, b_name, w = _weights(imp, op, 3)
    _, kh, kw, oc = w.shape
    if oc % x.shape[3]:
        raise ValueError("output channels are not a multiple of the input channels")
    # The IR's depthwise filter is [KH, KW, OC]: a reshaped copy of the TFLite constant.
    w_ir = imp.graph.unique_name(f"{w.name}_hwc")
    imp.graph.add_tensor(
        Tensor(w_ir, (kh, kw, oc), "int8", np.ascontiguousarray(w.data.reshape(kh, kw, oc)), quant=_dw_quant(imp, w))
    )
    strides = (int(o["stride_h"]), int(o["stride_w"]))
    dilations = (int(o["dilation_h_factor"]), int(o["dilation_w_factor"]))
    pads = _pads(o["padding"], x.shape[1:3], (kh, kw), strides, dilations, y.shape[1:3])
    # TFLM derives the multiplier from the shapes (the option is unreliable in old files).
    attrs = {"strides": strides, "dilations": dilations, "pads": pads, "depth_multiplier": oc // x.shape[3]}
    attrs.update(_requant_attrs(imp, op, w, oc))
    imp.add(
        op,
        "depthwise_conv2d",
        [imp.name(op.inputs[0]), w_ir, *([b_name] if b_name else [])],
        [imp.name(op.outputs[0])],
        attrs,
    )


def _dw_quant(imp: _Importer, w: TfliteTensor) -> QuantParams:
    q = imp.quant(w)
    if q.per_channel:
        return QuantParams(q.scale, q.zero_point, axis=2)
    return q


def _fully_connected(imp: _Importer, op: TfliteOperator) -> None:
    w_name, b_name, w = _weights(imp, op, 0)
    n, k = w.shape
    x_name = imp.name(op.inputs[0])
    x_shape = imp.graph.tensors[x_name].shape
    total = math.prod(x_shape)
    if total % k:
        raise ValueError(f"input of {total} elements is not a whole number of rows of {k}")
    rows = total // k
    y_name = imp.name(op.outputs[0])
    y_shape = imp.graph.tensors[y_name].shape
    if math.prod(y_shape) != rows * n:
        raise ValueError(f"output shape {y_shape} does not hold {rows} x {n} values")
    if x_shape != (rows, k):
        flat = imp.new_activation(f"{x_name}_rows", (rows, k), x_name)
        imp.add(op, "reshape", [x_name], [flat], {"shape": (rows, k)})
        x_name = flat
    out_name = y_name
    if y_shape != (rows, n):
        out_name = imp.new_activation(f"{y_name}_rows", (rows, n), y_name)
    attrs = _requant_attrs(imp, op, w, n)
    if w.quant.scale.size == 1:
        attrs["multiplier"] = attrs["multiplier"][:1]
        attrs["shift"] = attrs["shift"][:1]
    imp.add(op, "fully_connected", [x_name, w_name, *([b_name] if b_name else [])], [out_name], attrs)
    if out_name != y_name:
        imp.add(op, "reshape", [out_name], [y_name], {"shape": tuple(y_shape)})


def _binary(imp: _Importer, op: TfliteOperator) -> None:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    for i in (a, b):
        t = imp.t(i)
        if t.type not in _ACT_TYPES or t.quant is None or t.quant.scale.size != 1:
            raise ValueError(f"operand {t.name!r} must be per-tensor int8 or int16")
    act_min, act_max = imp.act_bounds(op, y)
    qa, qb, qy = imp.q(a), imp.q(b), imp.q(y)
    if op.op in ("ADD", "SUB"):
        attrs = op_params.add_params(qa, qb, qy, act_min=act_min, act_max=act_max, subtract=op.op == "SUB")
        ir_op = "add"
    else:
        attrs = op_params.mul_params(qa, qb, qy, act_min=act_min, act_max=act_max)
        ir_op = "mul"
    imp.add(op, ir_op, [imp.name(a), imp.name(b)], [imp.name(y)], attrs)


def _pool(imp: _Importer, op: TfliteOperator) -> None:
    o = op.options
    x, y = imp.t(op.inputs[0]), imp.t(op.outputs[0])
    kernel = (int(o["filter_height"]), int(o["filter_width"]))
    strides = (int(o["stride_h"]), int(o["stride_w"]))
    pads = _pads(o["padding"], x.shape[1:3], kernel, strides, (1, 1), y.shape[1:3])
    act_min, act_max = imp.act_bounds(op, op.outputs[0])
    ir_op = "max_pool2d" if op.op == "MAX_POOL_2D" else "avg_pool2d"
    attrs = {"kernel": kernel, "strides": strides, "pads": pads, "act_min": act_min, "act_max": act_max}
    imp.add(op, ir_op, [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], attrs)


def _reshape(imp: _Importer, op: TfliteOperator) -> None:
    x, y = imp.name(op.inputs[0]), imp.name(op.outputs[0])
    shape = tuple(imp.graph.tensors[y].shape)
    if math.prod(shape) != math.prod(imp.graph.tensors[x].shape):
        raise ValueError("reshape changes the number of elements")
    imp.add(op, "reshape", [x], [y], {"shape": shape})


def _softmax(imp: _Importer, op: TfliteOperator) -> None:
    out_q = imp.q(op.outputs[0])
    beta = float(op.options.get("beta", 1.0))
    if imp.graph.tensors[imp.name(op.inputs[0])].dtype == "int16":
        if imp.graph.tensors[imp.name(op.outputs[0])].dtype != "int16":
            raise ValueError("an int16 SOFTMAX must have an int16 output (TFLM's SoftmaxInt16)")
        if abs(out_q.scalar_scale() - 1.0 / 32768) > 0.001 / 32768:
            raise ValueError("int16 SOFTMAX output must have scale 1/32768 and zero point 0 (TFLM requires it)")
        attrs = op_params.softmax_s16_params(imp.q(op.inputs[0]).scalar_scale(), beta)
        imp.add(op, "softmax", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], attrs)
        return
    if out_q.scalar_zero_point() != -128 or abs(out_q.scalar_scale() - 1.0 / 256) > 0.001 / 256:
        raise ValueError("int8 SOFTMAX output must have scale 1/256 and zero point -128 (TFLM requires it)")
    attrs = op_params.softmax_params(imp.q(op.inputs[0]).scalar_scale(), beta)
    imp.add(op, "softmax", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], attrs)


def _lut(imp: _Importer, op: TfliteOperator, table: np.ndarray) -> None:
    imp.add(op, "lut", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], {"table": table})


def _elementwise(imp: _Importer, op: TfliteOperator) -> None:
    qi, qo = imp.q(op.inputs[0]), imp.q(op.outputs[0])
    si, zi, so, zo = qi.scalar_scale(), qi.scalar_zero_point(), qo.scalar_scale(), qo.scalar_zero_point()
    if op.op in ("LOGISTIC", "TANH") and imp.t(op.inputs[0]).type == INT16:
        mult, shift = sigmoid_s16.sigmoid_tanh_params(si, so, tanh=op.op == "TANH")
        attrs = {"input_multiplier": mult, "input_left_shift": shift}
        imp.add(op, op.op.lower(), [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], attrs)
        return
    if op.op == "LOGISTIC":
        if zo != -128:
            raise ValueError("int8 LOGISTIC output zero point must be -128 (TFLM requires it)")
        table = tflite_luts.logistic_table(si, zi)
    elif op.op == "TANH":
        if zo != 0:
            raise ValueError("int8 TANH output zero point must be 0 (TFLM requires it)")
        table = tflite_luts.tanh_table(si, zi)
    elif op.op == "RELU":
        table = tflite_luts.relu_table(si, zi, so, zo)
    elif op.op == "RELU6":
        table = tflite_luts.relu6_table(si, zi)
    elif op.op == "HARD_SWISH":
        table = tflite_luts.hard_swish_table(si, zi, so, zo)
    elif op.op == "QUANTIZE" and imp.t(op.outputs[0]).type == UINT8:
        table = tflite_luts.requantize_uint8_table(si, zi, so, zo)
        y = imp.graph.tensors[imp.name(op.outputs[0])]
        y.dtype, y.quant = "uint8", QuantParams(qo.scale, qo.zero_point, dtype="uint8")
    elif op.op == "QUANTIZE":
        if INT16 in (imp.t(op.inputs[0]).type, imp.t(op.outputs[0]).type):
            _requantize(imp, op, si / so, zi, zo)
            return
        table = tflite_luts.requantize_table(si, zi, so, zo)
    else:  # pragma: no cover - dispatch table and this list agree
        raise ValueError(f"no table for {op.op}")
    _lut(imp, op, table)


def _requantize(imp: _Importer, op: TfliteOperator, ratio: float, zi: int, zo: int) -> None:
    """QUANTIZE from or to int16 (TFLM ``Requantize``; int8 -> int8 stays a lut)."""
    mult, shift = op_params.requantize_multiplier(ratio)
    bits = 16 if imp.t(op.outputs[0]).type == INT16 else 8
    attrs = {"input_offset": -zi, "output_offset": zo, "multiplier": mult, "shift": shift, "output_bits": bits}
    imp.add(op, "requantize", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], attrs)


def _pad(imp: _Importer, op: TfliteOperator) -> None:
    x = imp.t(op.inputs[0])
    paddings = imp.t(op.inputs[1])
    if paddings.data is None:
        raise ValueError("paddings must be a constant tensor")
    pads = tuple((int(b), int(a)) for b, a in np.asarray(paddings.data).reshape(-1, 2))
    if len(pads) != len(x.shape):
        raise ValueError("paddings must have one (before, after) pair per input axis")
    out_q = imp.q(op.outputs[0])
    pad_value = out_q.scalar_zero_point()  # TFLM: PAD fills int8 with the output zero point
    if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        c = imp.t(op.inputs[2])
        if c.data is None or c.type != INT8:
            raise ValueError("PADV2 constant value must be a constant int8 tensor")
        pad_value = int(np.asarray(c.data).reshape(-1)[0])
    imp.add(op, "pad", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], {"pads": pads, "pad_value": pad_value})


def _concat(imp: _Importer, op: TfliteOperator) -> None:
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise ValueError("fused activations on CONCATENATION are not supported")
    rank = len(imp.t(op.outputs[0]).shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    # TFLM's int8 CONCATENATION copies bytes without rescaling; so do we.
    inputs = [imp.name(i) for i in op.inputs]
    imp.add(op, "concat", inputs, [imp.name(op.outputs[0])], {"axis": axis})


def _mean(imp: _Importer, op: TfliteOperator) -> None:
    from qcompile.reference.reduce import mean_params

    x = imp.t(op.inputs[0])
    axes_t = imp.t(op.inputs[1])
    if axes_t.data is None:
        raise ValueError("MEAN axes must be a constant tensor")
    rank = len(x.shape)
    axes = sorted({int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes_t.data).reshape(-1)})
    if rank != 4 or axes != [1, 2]:  # any other axes: the general reduction
        # the general reduction plug-in (registered for SUM and REDUCE_MAX) handles MEAN too;
        # asked through the registry so that this module does not import its own plug-ins
        TFLITE_OPS.get("SUM")(imp, op)
        return
    keep = bool(op.options.get("keep_dims", 0))
    qi, qo = imp.q(op.inputs[0]), imp.q(op.outputs[0])
    attrs = mean_params(qi, qo, count=x.shape[1] * x.shape[2])
    attrs["keep_dims"] = int(keep)
    y = imp.name(op.outputs[0])
    expected = (x.shape[0], 1, 1, x.shape[3]) if keep else (x.shape[0], x.shape[3])
    if tuple(imp.graph.tensors[y].shape) != expected:
        raise ValueError(f"MEAN output shape {imp.graph.tensors[y].shape} is not {expected}")
    imp.add(op, "mean", [imp.name(op.inputs[0])], [y], attrs)


_CONVERTERS: dict[str, Callable[[_Importer, TfliteOperator], None]] = {
    "CONV_2D": _conv2d,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "ADD": _binary,
    "SUB": _binary,
    "MUL": _binary,
    "AVERAGE_POOL_2D": _pool,
    "MAX_POOL_2D": _pool,
    "MEAN": _mean,
    "RESHAPE": _reshape,
    "SQUEEZE": _reshape,
    "SOFTMAX": _softmax,
    "LOGISTIC": _elementwise,
    "TANH": _elementwise,
    "RELU": _elementwise,
    "RELU6": _elementwise,
    "HARD_SWISH": _elementwise,
    "QUANTIZE": _elementwise,
    "PAD": _pad,
    "PADV2": _pad,
    "CONCATENATION": _concat,
}
