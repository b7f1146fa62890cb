"""Quantization: float IR + calibrated ranges -> int8 IR (the TFLite int8 spec).

Activations get per-tensor asymmetric int8 parameters from their calibrated range;
weights get per-output-channel symmetric int8; biases int32 at ``in_scale * w_scale``.
Every node's attributes are replaced by the integer parameters its kernel consumes
(docs/QUANTIZATION.md), so nothing downstream ever touches a float again.

Scales are rounded to float32 before any multiplier is derived. TFLite stores float32
scales and TFLM derives multipliers from them in double; doing the same keeps one code
path for models we quantize and models imported already quantized.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from qcompile import op_params
from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, QuantParams, Tensor, round_half_away
from qcompile.quant.converters import QUANT_CONVERTERS
from qcompile.quant.elementwise_s16 import elementwise_s16
from qcompile.quant.global_mean import prefer_mean
from qcompile.quant.shared_ranges import Groups, adjust_shared_ranges

# Ops whose output must carry exactly the input's quantization (TFLite spec): they move
# or select int8 values without arithmetic.
SHARES_INPUT_PARAMS = {"max_pool2d", "avg_pool2d", "reshape", "transpose", "pad", "copy", "strided_slice"}
# Ops whose activation inputs and output all share one set of parameters: concat copies
# bytes, maximum/minimum compare stored values (TFLM).
_SHARES_ALL_PARAMS = {"concat", "maximum", "minimum"}

# Output-channel axis of each weighted op's weights (conv [OC,KH,KW,C], depthwise [KH,KW,C], FC [N,K]).
WEIGHT_AXIS = {"conv2d": 0, "depthwise_conv2d": 2, "fully_connected": 0}

SOFTMAX_OUTPUT = QuantParams(np.float64(1.0 / 256.0), np.int64(-128))
#: and the 16x8 softmax's (TFLM requires scale 1/32768, zero point 0)
SOFTMAX_OUTPUT_S16 = QuantParams(np.float64(1.0 / 32768.0), np.int64(0), dtype="int16")
#: int16 sigmoid / tanh outputs: TFLM's int16 LOGISTIC / TANH require scale 2^-15
Q15_OUTPUT = QuantParams(np.float64(2.0**-15), np.int64(0), dtype="int16")


def _f32(x: float) -> float:
    return float(np.float32(x))


@dataclass(frozen=True)
class QuantConfig:
    """The PTQ choices that change parameters (docs/QUANTIZATION.md, "PTQ options").

    ``weight_codes`` maps a conv/depthwise/FC node name to int8 weights chosen elsewhere
    (AdaRound's learned rounding, or a pre-quantized model's own) in place of
    round-to-nearest; their scales are :func:`weight_params`'s unless ``weight_scales``
    gives the node's per-output-channel scales (a pre-quantized ONNX model's, kept as
    they are); ``bias_codes`` likewise gives a node's int32 bias as stored."""

    per_tensor_weights: bool = False
    symmetric_activations: bool = False
    weight_codes: Mapping[str, np.ndarray] = field(default_factory=dict)
    weight_scales: Mapping[str, np.ndarray] = field(default_factory=dict)
    bias_codes: Mapping[str, np.ndarray] = field(default_factory=dict)
    act_bits: int = 8  # 16: TFLite's 16x8 scheme for the whole model (symmetric int16 activations)
    act_bits_for: Mapping[str, int] = field(default_factory=dict)  # tensor or node name -> 8 or 16


def symmetric_activation_params(lo: float, hi: float) -> QuantParams:
    """Symmetric int8 parameters: zero point 0, scale = max(|lo|, |hi|) / 127, so the
    codes -127..127 cover the range (-128 is usable but not needed)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise QCompileError(f"calibration range [{lo}, {hi}] is not finite")
    max_abs = max(abs(float(lo)), abs(float(hi)))
    if max_abs < 127.0 * float(np.finfo(np.float32).tiny):
        max_abs = 1.0
    return QuantParams(np.float64(_f32(max_abs / 127.0)), np.int64(0))


def int16_activation_params(lo: float, hi: float) -> QuantParams:
    """16x8 activations: symmetric int16, zero point 0, scale = float32(max(|lo|, |hi|) / 32767)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise QCompileError(f"calibration range [{lo}, {hi}] is not finite")
    max_abs = max(abs(float(lo)), abs(float(hi)))
    if max_abs < 32767.0 * float(np.finfo(np.float32).tiny):
        max_abs = 1.0
    return QuantParams(np.float64(_f32(max_abs / 32767.0)), np.int64(0), dtype="int16")


def activation_params(lo: float, hi: float) -> QuantParams:
    """Asymmetric int8 parameters covering [lo, hi] widened to contain 0.

    zero_point = round(-128 - lo / scale) clamped, as TFLite's nudging does; a range that
    is a single point (a tensor that is always zero) gets scale 1/255, and so does a range
    too narrow for a normal float32 scale (subnormal values: its scale would round to 0).
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise QCompileError(f"calibration range [{lo}, {hi}] is not finite")
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 255.0 * float(np.finfo(np.float32).tiny):
        hi = lo + 1.0
    scale = _f32((hi - lo) / 255.0)
    zero_point = int(np.clip(round_half_away(-128.0 - lo / scale), -128, 127))
    return QuantParams(np.float64(scale), np.int64(zero_point))


def weight_params(w: np.ndarray, axis: int, *, per_tensor: bool = False) -> QuantParams:
    """Symmetric per-channel int8 parameters (zero point 0, values in [-127, 127]).

    ``per_tensor`` gives every channel the scale of the whole tensor. The parameters stay
    per-channel in form (equal values), so the kernels and the C are the same either way."""
    reduce_axes = tuple(a for a in range(w.ndim) if a != axis)
    max_abs = np.max(np.abs(w.astype(np.float64)), axis=reduce_axes)
    if per_tensor:
        max_abs = np.full_like(max_abs, np.max(max_abs))
    scale = np.where(max_abs > 0, max_abs / 127.0, 1.0).astype(np.float32).astype(np.float64)
    return QuantParams(scale, np.zeros(scale.shape, dtype=np.int64), axis=axis)


def quantize_weights(w: np.ndarray, q: QuantParams) -> np.ndarray:
    shape = [1] * w.ndim
    shape[q.axis] = -1
    values = round_half_away(w.astype(np.float64) / q.scale.reshape(shape))
    return np.clip(values, -127, 127).astype(np.int8)


def quantize_bias(b: np.ndarray, input_scale: float, w_scale: np.ndarray, dtype: str = "int32") -> np.ndarray:
    """Bias at ``input_scale * w_scale``, saturated to int32 (int64 for 16x8 layers)."""
    bias_scale = input_scale * w_scale
    values = round_half_away(b.astype(np.float64) / bias_scale)
    info = np.iinfo(dtype)
    return np.clip(values, float(info.min), float(info.max)).astype(dtype)


def shares_input_params(node: Node) -> bool:
    """The node's output carries exactly its input's parameters (``SHARES_INPUT_PARAMS`` and
    the converters registered with ``shares_input_params=True``)."""
    return node.op in SHARES_INPUT_PARAMS or bool(QUANT_CONVERTERS.extra(node.op).get("shares_input_params"))


def assign_activation_params(
    graph: Graph,
    ranges: Mapping[str, tuple[float, float]],
    *,
    symmetric: bool = False,
    bits: int = 8,
    bits_for: Mapping[str, int] | None = None,
) -> dict[str, QuantParams]:
    """Quant params for every activation tensor, honouring the spec's sharing constraints.

    ``bits`` is the activation width of the model; ``bits_for`` (tensor name -> 8 or 16)
    overrides it for a tensor's whole sharing group (16 wins inside a group)."""
    bits_for = bits_for or {}
    groups = Groups()
    fixed: dict[str, QuantParams] = {}
    makers = _own_param_groups(graph, groups)
    wide_fixed: dict[str, QuantParams] = {}  # pinned in int16 only
    for node in graph.nodes:
        if shares_input_params(node):
            groups.union(node.inputs[0], node.outputs[0])
        elif node.op in _SHARES_ALL_PARAMS:
            for name in node.inputs:
                if not graph.tensors[name].is_constant:
                    groups.union(name, node.outputs[0])
        elif node.op == "softmax":
            fixed[node.outputs[0]] = SOFTMAX_OUTPUT
        elif node.op == "elementwise" and node.attrs.get("fn") in ("sigmoid", "tanh"):
            wide_fixed[node.outputs[0]] = Q15_OUTPUT  # TFLM's int16 LOGISTIC/TANH need 2^-15

    members: dict[str, list[str]] = {}
    for t in graph.activations():
        members.setdefault(groups.find(t.name), []).append(t.name)

    params: dict[str, QuantParams] = {}
    for root in sorted(members):
        names = sorted(members[root])
        pinned = [fixed[n] for n in names if n in fixed]
        widths = {bits_for[n] for n in names if n in bits_for}
        wide = (16 in widths) or (bits == 16 and not widths)
        maker = next((makers[n] for n in names if n in makers), None)
        wide_pinned = [wide_fixed[n] for n in names if n in wide_fixed] if wide else []
        if pinned:
            q = SOFTMAX_OUTPUT_S16 if wide and pinned[0] is SOFTMAX_OUTPUT else pinned[0]
        elif wide_pinned:
            q = wide_pinned[0]
        elif maker is not None:
            q = maker(*_group_range(ranges, names))
        else:
            missing = [n for n in names if n not in ranges]
            if len(missing) == len(names):
                raise QCompileError(
                    f"no calibration range for tensor {names[0]!r}; calibrate with data that reaches it"
                )
            lo = min(ranges[n][0] for n in names if n in ranges)
            hi = max(ranges[n][1] for n in names if n in ranges)
            if wide:
                q = int16_activation_params(lo, hi)
            else:
                q = symmetric_activation_params(lo, hi) if symmetric else activation_params(lo, hi)
        for n in names:
            params[n] = q
    return params


def _own_param_groups(graph: Graph, groups: Groups) -> dict[str, Callable[[float, float], QuantParams]]:
    """Unions the tensor groups the converters registered with ``param_groups=fn(node)`` ask for
    (``fn`` returns ``[(tensor names, maker or None)]``: the names share one set of parameters,
    ``maker(lo, hi)`` makes them from the group's calibrated hull, e.g. the LSTM's int16
    power-of-two cell state); returns ``{member: maker}``."""
    makers: dict[str, Callable[[float, float], QuantParams]] = {}
    for node in graph.nodes:
        hook = QUANT_CONVERTERS.extra(node.op).get("param_groups")
        for names, maker in hook(node) if hook else ():
            acts = [n for n in names if n and not graph.tensors[n].is_constant]
            for n in acts[1:]:
                groups.union(acts[0], n)
            if acts and maker is not None:
                makers[acts[0]] = maker
    return makers


def _group_range(ranges: Mapping[str, tuple[float, float]], names: list[str]) -> tuple[float, float]:
    have = [ranges[n] for n in names if n in ranges]
    if not have:
        raise QCompileError(f"no calibration range for tensor {names[0]!r}; calibrate with data that reaches it")
    return min(float(r[0]) for r in have), max(float(r[1]) for r in have)


def _own_tensors(node: Node) -> set[str]:
    """The tensors whose widths the op sets itself (its ``param_groups``): no int8/int16
    conversion is inserted for them."""
    hook = QUANT_CONVERTERS.extra(node.op).get("param_groups")
    return {n for names, _ in hook(node) for n in names if n} if hook else set()


def quantize(
    graph: Graph,
    ranges: Mapping[str, tuple[float, float]],
    config: QuantConfig | None = None,
    *,
    params: Mapping[str, QuantParams] | None = None,
) -> Graph:
    """Return the int8 graph; ``ranges`` maps every activation tensor name to (min, max).

    ``params`` instead gives every activation's parameters as they are (a pre-quantized
    model's, :mod:`qcompile.frontends.onnx_qdq`): no range is read then."""
    config = config or QuantConfig()
    qgraph = graph.copy()
    if config.act_bits not in (8, 16):
        raise QCompileError(f"--act-bits {config.act_bits}: activations are 8 or 16 bits")
    bits_for = resolve_act_bits(qgraph, config.act_bits_for)
    if params is None:
        prefer_mean(qgraph, ranges)
        ranges = adjust_shared_ranges(qgraph, ranges, shares_input_params, _SHARES_ALL_PARAMS)
        act_q = assign_activation_params(
            qgraph, ranges, symmetric=config.symmetric_activations, bits=config.act_bits, bits_for=bits_for
        )
    else:
        act_q = dict(params)
    for name, q in act_q.items():
        t = qgraph.tensors[name]
        t.quant = q
        t.dtype = q.dtype
    if params is None:  # a pre-quantized model brings its own widths
        _insert_conversions(qgraph, ranges)

    for node in qgraph.nodes:
        converter = _CONVERTERS.get(node.op) or QUANT_CONVERTERS.get(node.op)
        weight_axis = WEIGHT_AXIS.get(node.op, QUANT_CONVERTERS.extra(node.op).get("weight_axis"))
        if weight_axis is None and converter is None:
            raise QCompileError(f"cannot quantize node {node.name!r}: op {node.op!r} has no int8 form")
        try:
            if weight_axis is not None:
                _convert_weighted(qgraph, node, weight_axis, config)
            else:
                converter(qgraph, node)
        except ValueError as exc:  # a multiplier no int32 kernel can apply (absurd ranges or weights)
            raise QCompileError(f"cannot quantize node {node.name!r} ({node.op}): {exc}") from exc
    qgraph.prune()
    qgraph.validate()
    return qgraph


# -- per-op conversion ------------------------------------------------------------------


def _q(graph: Graph, name: str) -> QuantParams:
    q = graph.tensors[name].quant
    assert q is not None, name
    return q


def _bounds(node: Node, out_q: QuantParams) -> tuple[int, int]:
    act_range = node.attrs.get("act_range", (None, None))
    return op_params.activation_bounds(tuple(act_range), out_q)


def _replace_constant(graph: Graph, old: str, data: np.ndarray, quant: QuantParams | None, suffix: str) -> str:
    """Store a quantized constant under a new name (the float one may be shared)."""
    name = graph.unique_name(f"{old}_{suffix}")
    graph.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), np.ascontiguousarray(data), quant=quant))
    return name


def _convert_weighted(graph: Graph, node: Node, channel_axis: int, config: QuantConfig) -> None:
    x, w_name = node.inputs[0], node.inputs[1]
    b_name = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
    in_q, out_q = _q(graph, x), _q(graph, node.outputs[0])
    w = graph.tensors[w_name].data
    out_channels = w.shape[channel_axis]
    scales = config.weight_scales.get(node.name)
    if scales is None:
        wq = weight_params(w, channel_axis, per_tensor=config.per_tensor_weights)
    else:
        wq = QuantParams(np.asarray(scales, np.float64), np.zeros(out_channels, np.int64), axis=channel_axis)
    codes = config.weight_codes.get(node.name)
    w_int = quantize_weights(w, wq) if codes is None else np.asarray(codes, dtype=np.int8)
    in_scale = in_q.scalar_scale()
    bias = graph.tensors[b_name].data if b_name else np.zeros(out_channels, dtype=np.float32)
    b_type = "int64" if in_q.dtype == "int16" else "int32"  # TFLite 16x8: int64 bias
    b_int = quantize_bias(bias, in_scale, wq.scale, b_type)
    if node.name in config.bias_codes:
        b_int = np.asarray(config.bias_codes[node.name], dtype=b_type)
    new_w = _replace_constant(graph, w_name, w_int, wq, "int8")
    bias_q = QuantParams(in_scale * wq.scale, np.zeros(out_channels, dtype=np.int64), axis=0, dtype=b_type)
    new_b = _replace_constant(graph, b_name or f"{node.name}_bias", b_int, bias_q, b_type)
    mult, shift = op_params.channel_multipliers(in_scale, wq.scale, out_q.scalar_scale())
    act_min, act_max = _bounds(node, out_q)
    attrs = dict(node.attrs)
    attrs.pop("act_range", None)
    attrs.update(
        input_offset=-in_q.scalar_zero_point(),
        output_offset=out_q.scalar_zero_point(),
        multiplier=mult,
        shift=shift,
        act_min=act_min,
        act_max=act_max,
    )
    node.inputs = [x, new_w, new_b]
    node.attrs = attrs


def _quantize_operand(graph: Graph, node: Node, index: int) -> QuantParams:
    """Constant operands of binary ops are quantized per-tensor from their own range."""
    name = node.inputs[index]
    t = graph.tensors[name]
    if not t.is_constant:
        return _q(graph, name)
    lo, hi = float(np.min(t.data)), float(np.max(t.data))
    int16 = graph.tensors[node.outputs[0]].dtype == "int16"
    q = int16_activation_params(lo, hi) if int16 else activation_params(lo, hi)
    node.inputs[index] = _replace_constant(graph, name, q.quantize(t.data), q, q.dtype)
    return q


def _convert_binary(graph: Graph, node: Node) -> None:
    q1 = _quantize_operand(graph, node, 0)
    q2 = _quantize_operand(graph, node, 1)
    out_q = _q(graph, node.outputs[0])
    act_min, act_max = _bounds(node, out_q)
    if node.op in ("add", "sub"):
        node.attrs = op_params.add_params(q1, q2, out_q, act_min=act_min, act_max=act_max, subtract=node.op == "sub")
        node.op = "add"
    else:
        node.attrs = op_params.mul_params(q1, q2, out_q, act_min=act_min, act_max=act_max)


def _convert_pool(graph: Graph, node: Node) -> None:
    act_min, act_max = _bounds(node, _q(graph, node.outputs[0]))
    node.attrs = {
        "kernel": tuple(node.attrs["kernel"]),
        "strides": tuple(node.attrs["strides"]),
        "pads": tuple(node.attrs["pads"]),
        "act_min": act_min,
        "act_max": act_max,
    }


def _convert_softmax(graph: Graph, node: Node) -> None:
    s16 = graph.tensors[node.inputs[0]].dtype == "int16"
    params = op_params.softmax_s16_params if s16 else op_params.softmax_params
    node.attrs = params(_q(graph, node.inputs[0]).scalar_scale(), float(node.attrs.get("beta", 1.0)))


def _convert_elementwise(graph: Graph, node: Node) -> None:
    from qcompile.reference.float_ops import elementwise_function

    if graph.tensors[node.outputs[0]].dtype == "int16":
        elementwise_s16(graph, node)
        return
    attrs = dict(node.attrs)
    fn = elementwise_function(attrs.pop("fn"), **attrs)
    table = op_params.lut_table(fn, _q(graph, node.inputs[0]), _q(graph, node.outputs[0]))
    node.op = "lut"
    node.attrs = {"table": table}


def _convert_pad(graph: Graph, node: Node) -> None:
    q = _q(graph, node.inputs[0])
    value = float(node.attrs.get("value", 0.0))
    pad_value = int(np.clip(round_half_away(value / q.scalar_scale()) + q.scalar_zero_point(), q.qmin, q.qmax))
    node.attrs = {"pads": tuple(tuple(int(v) for v in p) for p in node.attrs["pads"]), "pad_value": pad_value}


def _convert_concat(graph: Graph, node: Node) -> None:
    out_q = _q(graph, node.outputs[0])
    for i, name in enumerate(node.inputs):
        t = graph.tensors[name]
        if t.is_constant:
            node.inputs[i] = _replace_constant(graph, name, out_q.quantize(t.data), out_q, "int8")
    node.attrs = {"axis": int(node.attrs["axis"])}


def _keep(graph: Graph, node: Node) -> None:
    """Data movement ops keep their attributes: int8 in, int8 out, same parameters."""


_CONVERTERS = {
    "add": _convert_binary,
    "sub": _convert_binary,
    "mul": _convert_binary,
    "max_pool2d": _convert_pool,
    "avg_pool2d": _convert_pool,
    "softmax": _convert_softmax,
    "elementwise": _convert_elementwise,
    "pad": _convert_pad,
    "concat": _convert_concat,
    "transpose": _keep,
    "reshape": _keep,
    "copy": _keep,
    "requantize": _keep,  # made by _int8_islands with its integer attributes
}


#: float-IR ops with a 16x8 kernel; every other op (tables, and any op added without
#: one) runs in int8 behind requantize nodes whatever the widths asked for
_S16_OPS = frozenset(
    {"conv2d", "depthwise_conv2d", "fully_connected", "add", "sub", "mul", "max_pool2d", "avg_pool2d"}
    | {"concat", "pad", "transpose", "reshape", "copy", "softmax", "global_avg_pool", "reduce_mean", "reduce_sum"}
    | {"strided_slice", "elementwise", "batch_matmul", "prelu", "maximum", "minimum"}
    | {"resize_nearest"}
)


def _int8_only(node: Node) -> bool:
    return node.op not in _S16_OPS


#: ops whose output shares its inputs' parameters: a converted input takes the output's
_SHARING = SHARES_INPUT_PARAMS | _SHARES_ALL_PARAMS


def resolve_act_bits(graph: Graph, act_bits_for: Mapping[str, int]) -> dict[str, int]:
    """``{IR tensor: bits}`` from ``--act-bits-for NAME=BITS``: a NAME is an activation (IR or
    source model name) or a node (IR or source model name: its outputs)."""
    result: dict[str, int] = {}
    for name, bits in act_bits_for.items():
        if int(bits) not in (8, 16):
            raise QCompileError(f"--act-bits-for {name}={bits}: activations are 8 or 16 bits")
        hits = [t.name for t in graph.activations() if name in (t.name, t.source_name)]
        hits += [o for n in graph.nodes if name == n.name or name in n.source_nodes for o in n.outputs]
        if not hits:
            known = sorted({t.source_name or t.name for t in graph.activations()})
            raise QCompileError(f"--act-bits-for {name}={bits}: no activation or node named {name!r}; known: {known}")
        result.update(dict.fromkeys(hits, int(bits)))
    return result


def _insert_conversions(graph: Graph, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Where precision changes, a requantize (TFLite QUANTIZE int8 <-> int16) in front of the
    reader: every node computes in its output's width (16x8 kernels take int16 in and out),
    and an op without a 16x8 kernel (``_int8_only``) computes in int8, each int16 output
    produced by a requantize after it. A converted input gets the reader's output parameters
    when the reader shares them (pools, reshape, concat, ...), else parameters from the
    tensor's calibrated range."""
    for node in [n for n in graph.nodes if _int8_only(n) and not _own_tensors(n)]:
        for k, name in enumerate(list(node.outputs)):
            out = graph.tensors[name]
            if out.dtype != "int16":
                continue
            q8 = activation_params(*ranges.get(out.name, (-1.0, 1.0)))
            narrow = graph.unique_name(f"{out.name}_int8")
            graph.add_tensor(Tensor(narrow, tuple(out.shape), "int8", quant=q8, source_name=out.source_name))
            graph.tensors[narrow].source_perm = out.source_perm
            node.outputs[k] = narrow
            _add_requantize(graph, narrow, out.name, after=node)
    for node in list(graph.nodes):
        if node.op == "requantize":
            continue
        width = "int8" if _int8_only(node) else graph.tensors[node.outputs[0]].dtype
        own = _own_tensors(node)
        for i, name in enumerate(node.inputs):
            t = graph.tensors.get(name) if name else None
            if t is None or t.is_constant or t.dtype == width or name in own:
                continue
            if node.op in _SHARING:
                q = _q(graph, node.outputs[0])
            else:
                lo, hi = ranges.get(name, (-1.0, 1.0))
                q = int16_activation_params(lo, hi) if width == "int16" else activation_params(lo, hi)
            node.inputs[i] = _requantize_node(graph, name, q, before=node)


def _requantize_node(graph: Graph, src: str, q: QuantParams, *, before: Node) -> str:
    """A new tensor with parameters ``q`` holding ``src`` requantized, computed just before ``before``."""
    t = graph.tensors[src]
    name = graph.unique_name(f"{src}_{q.dtype}")
    graph.add_tensor(Tensor(name, tuple(t.shape), q.dtype, quant=q, source_name=t.source_name))
    graph.tensors[name].source_perm = t.source_perm
    _add_requantize(graph, src, name, before=before)
    return name


def _add_requantize(graph: Graph, src: str, dst: str, *, before: Node | None = None, after: Node | None = None) -> None:
    qi, qo = _q(graph, src), _q(graph, dst)
    mult, shift = op_params.requantize_multiplier(qi.scalar_scale() / qo.scalar_scale())
    attrs = {
        "input_offset": -qi.scalar_zero_point(),
        "output_offset": qo.scalar_zero_point(),
        "multiplier": mult,
        "shift": shift,
        "output_bits": 16 if qo.dtype == "int16" else 8,
    }
    node = Node(graph.unique_name(f"{dst}_requantize"), "requantize", [src], [dst], attrs)
    anchor = before if before is not None else after
    index = graph.nodes.index(anchor) + (0 if before is not None else 1)
    graph.add_node(node, index)
