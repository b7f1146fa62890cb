"""The op schema: every quantized op declared once.

For each op of the quantized IR, :data:`SCHEMAS` says which attributes its nodes carry
(exactly the keyword arguments of its numpy reference kernel and of its binding wrapper),
which inputs its output may overwrite in place or share (the memory planner and the
scheduler read these), whether its runtime kernel needs scratch (and how the binding's
``*_scratch_size`` function is asked), and which C parameter structs its kernel takes.
The struct contents are built in one place, :mod:`qcompile.ops.structs`: the code
generator renders those field dicts as ``static const`` initialisers and the Cython
binding assigns the very same dicts to its C structs, so the two cannot disagree.

Adding an op: a reference kernel, a runtime kernel, its binding wrapper, an entry here
and (when it takes a struct) a field builder in ``structs.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qcompile.errors import QCompileError

#: attributes of a quantized ``conv2d`` (also the unprefixed conv part of ``conv2d_add``)
CONV_ATTRS = (
    "strides",
    "dilations",
    "pads",
    "groups",
    "input_offset",
    "output_offset",
    "multiplier",
    "shift",
    "act_min",
    "act_max",
)
DEPTHWISE_ATTRS = tuple("depth_multiplier" if k == "groups" else k for k in CONV_ATTRS)
#: attributes of a quantized ``fully_connected`` (also the unprefixed FC part of ``avg_pool_fc``)
FC_ATTRS = ("input_offset", "output_offset", "multiplier", "shift", "act_min", "act_max")
#: attributes of a quantized ``add``, in the order of the C ``qc_add_params`` fields
ADD_ATTRS = (
    "subtract",
    "input1_offset",
    "input2_offset",
    "output_offset",
    "left_shift",
    "input1_multiplier",
    "input1_shift",
    "input2_multiplier",
    "input2_shift",
    "output_multiplier",
    "output_shift",
    "act_min",
    "act_max",
)
MUL_ATTRS = (
    "input1_offset",
    "input2_offset",
    "output_offset",
    "output_multiplier",
    "output_shift",
    "act_min",
    "act_max",
)
#: attributes of a quantized ``prelu`` (TFLM's PRELU), in the order of the C ``qc_prelu_params`` fields
PRELU_ATTRS = (
    "input_offset",
    "alpha_offset",
    "output_offset",
    "output_multiplier_1",
    "output_shift_1",
    "output_multiplier_2",
    "output_shift_2",
)
#: attributes of a quantized pool (also the ``pool_``-prefixed part of ``avg_pool_fc``)
POOL_ATTRS = ("kernel", "strides", "pads", "act_min", "act_max")
#: attributes of a quantized ``reduce_sum`` (TFLite SUM, and MEAN over any axes)
REDUCE_SUM_ATTRS = ("axes", "keep_dims", "input_offset", "output_offset", "multiplier", "shift")
#: attributes of a quantized ``transpose_conv2d`` (pads may be negative at the bottom/right)
TRANSPOSE_CONV_ATTRS = ("strides", "pads", "input_offset", "output_offset", "multiplier", "shift", "act_min", "act_max")
#: attributes of a quantized ``batch_matmul`` (TFLite BATCH_MATMUL), in ``qc_batch_matmul_params`` order
BATCH_MATMUL_ATTRS = (
    "adj_x",
    "adj_y",
    "lhs_offset",
    "rhs_offset",
    "output_offset",
    "output_multiplier",
    "output_shift",
    "act_min",
    "act_max",
)
#: attributes of a quantized ``layer_norm`` (inputs x, int32 gamma, int32 beta)
LAYER_NORM_ATTRS = ("eps", "out_shift", "output_offset", "act_min", "act_max")
#: attributes of a quantized ``gru`` (inputs x, w, r, int64 wb, int64 rb, int32 requant, h0), ``qc_gru_params`` order
GRU_ATTRS = (
    "hidden",
    "directions",
    "reverse",
    "linear_before_reset",
    "input_offset",
    "h0_offset",
    "h0_multiplier",
    "h0_shift",
    "output_offset",
    "output_multiplier",
    "output_shift",
    "gate_multiplier",
    "gate_shift",
    "rhn_multiplier",
    "rhn_shift",
)
#: attributes of a quantized ``lstm`` (TFLM's integer UNIDIRECTIONAL_SEQUENCE_LSTM), in ``qc_lstm_params`` order
LSTM_ATTRS = (
    "time_major",
    "input_offset",
    "hidden_zero_point",
    "gate_in_multiplier",
    "gate_in_shift",
    "gate_rec_multiplier",
    "gate_rec_shift",
    "cell_forget_multiplier",
    "cell_forget_shift",
    "cell_input_multiplier",
    "cell_input_shift",
    "hidden_multiplier",
    "hidden_shift",
    "cell_clip",
    "cell_tanh_multiplier",
    "cell_tanh_shift",
)
ADD_PREFIX = "add_"
POOL_PREFIX = "pool_"


@dataclass(frozen=True)
class OpSchema:
    """One op. ``inplace``: input positions the output may take over (the kernel reads each
    element of such an input only at the position it then writes). ``alias``: the output is
    input 0's buffer (no kernel call). ``scratch_shapes``: 0 when the runtime kernel needs no
    scratch, else how many input shapes (x, then w) the binding's ``<op>_s8_scratch_size``
    takes before the node's attributes. ``structs``: the C parameter structs, in argument order."""

    op: str
    attrs: tuple[str, ...]
    inplace: tuple[int, ...] = ()
    alias: bool = False
    scratch_shapes: int = 0
    structs: tuple[str, ...] = ()


_CONV2D_ADD_ATTRS = CONV_ATTRS + tuple(ADD_PREFIX + k for k in ADD_ATTRS) + ("add_conv_operand",)
_AVG_POOL_FC_ATTRS = tuple(POOL_PREFIX + k for k in POOL_ATTRS) + FC_ATTRS + ("flatten",)

SCHEMAS: dict[str, OpSchema] = {
    s.op: s
    for s in (
        OpSchema("conv2d", CONV_ATTRS, scratch_shapes=2, structs=("qc_conv_params",)),
        OpSchema("depthwise_conv2d", DEPTHWISE_ATTRS, scratch_shapes=2, structs=("qc_conv_params",)),
        OpSchema("fully_connected", FC_ATTRS, scratch_shapes=2, structs=("qc_fc_params",)),
        OpSchema("add", ADD_ATTRS, inplace=(0, 1), structs=("qc_add_params",)),
        OpSchema("mul", MUL_ATTRS, structs=("qc_mul_params",)),
        OpSchema("maximum", (), inplace=(0, 1), structs=("qc_broadcast_params",)),
        OpSchema("minimum", (), inplace=(0, 1), structs=("qc_broadcast_params",)),
        OpSchema("prelu", PRELU_ATTRS, inplace=(0,), structs=("qc_prelu_params",)),
        OpSchema("div", MUL_ATTRS, inplace=(0, 1), structs=("qc_mul_params",)),
        OpSchema("max_pool2d", POOL_ATTRS, structs=("qc_pool_params",)),
        OpSchema("avg_pool2d", POOL_ATTRS, scratch_shapes=1, structs=("qc_pool_params",)),
        OpSchema("softmax", ("input_multiplier", "input_left_shift", "diff_min"), structs=("qc_softmax_params",)),
        OpSchema("lut", ("table",), inplace=(0,)),
        OpSchema("concat", ("axis",)),
        OpSchema("pad", ("pads", "pad_value"), structs=("qc_pad_params",)),
        OpSchema("transpose", ("perm",), structs=("qc_transpose_params",)),
        OpSchema("reshape", ("shape",), alias=True),
        OpSchema("copy", ()),
        OpSchema("strided_slice", ("begin", "size", "strides"), structs=("qc_strided_slice_params",)),
        OpSchema(
            "conv2d_add", _CONV2D_ADD_ATTRS, inplace=(3,), scratch_shapes=2, structs=("qc_conv_params", "qc_add_params")
        ),
        OpSchema("avg_pool_fc", _AVG_POOL_FC_ATTRS, scratch_shapes=2, structs=("qc_pool_params", "qc_fc_params")),
        OpSchema(
            "mean", ("input_offset", "output_offset", "multiplier", "shift", "keep_dims"), structs=("qc_mean_params",)
        ),
        OpSchema("reduce_sum", REDUCE_SUM_ATTRS, structs=("qc_reduce_params",)),
        OpSchema("reduce_max", ("axes", "keep_dims"), structs=("qc_reduce_params",)),
        OpSchema("gather", ("axis", "indices"), structs=("qc_gather_params",)),
        OpSchema("resize_nearest", ("y_index", "x_index"), structs=("qc_resize_params",)),
        OpSchema("resize_bilinear", ("size", "align_corners", "half_pixel_centers"), structs=("qc_resize_params",)),
        OpSchema("transpose_conv2d", TRANSPOSE_CONV_ATTRS, structs=("qc_conv_params",)),
        OpSchema("batch_matmul", BATCH_MATMUL_ATTRS, structs=("qc_batch_matmul_params",)),
        OpSchema("layer_norm", LAYER_NORM_ATTRS, structs=("qc_layer_norm_params",)),
        OpSchema("gru", GRU_ATTRS, scratch_shapes=1, structs=("qc_gru_params",)),
        OpSchema("requantize", ("input_offset", "output_offset", "multiplier", "shift", "output_bits")),
        OpSchema("lstm", LSTM_ATTRS, structs=("qc_lstm_params",)),
        # int16 only (TFLM's int16 LUT sigmoid/tanh, reference/kernels/sigmoid_s16.py)
        OpSchema("logistic", ("input_multiplier", "input_left_shift"), inplace=(0,)),
        OpSchema("tanh", ("input_multiplier", "input_left_shift"), inplace=(0,)),
        # int16 only (TFLM's int16 LEAKY_RELU, reference/kernels/eltwise_s16.py)
        OpSchema(
            "leaky_relu",
            ("multiplier_identity", "shift_identity", "multiplier_alpha", "shift_alpha"),
            inplace=(0,),
        ),
    )
}

#: attributes a node may omit (the reference and binding default them)
OPTIONAL_ATTRS = {"avg_pool_fc": ("flatten",)}


def schema(op: str) -> OpSchema:
    """The schema of ``op``; an unknown op is a clear error."""
    found = SCHEMAS.get(op)
    if found is None:
        raise QCompileError(f"op {op!r} is not a quantized op (known: {', '.join(sorted(SCHEMAS))})")
    return found


def inplace_inputs() -> dict[str, tuple[int, ...]]:
    """Op -> input positions its output may overwrite in place."""
    return {s.op: s.inplace for s in SCHEMAS.values() if s.inplace}


def alias_ops() -> frozenset[str]:
    """Ops whose output shares input 0's buffer."""
    return frozenset(s.op for s in SCHEMAS.values() if s.alias)


def scratch_ops() -> dict[str, int]:
    """Op -> number of input shapes its ``*_scratch_size`` binding function takes."""
    return {s.op: s.scratch_shapes for s in SCHEMAS.values() if s.scratch_shapes}


def check_attrs(op: str, attrs: dict[str, Any], error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming missing or unknown attributes of an ``op`` node (the binding
    raises TypeError, as Python does for a wrong keyword argument)."""
    expected = set(schema(op).attrs)
    missing = sorted(expected - set(attrs) - set(OPTIONAL_ATTRS.get(op, ())))
    unknown = sorted(set(attrs) - expected)
    if missing or unknown:
        parts = ([f"missing {missing}"] if missing else []) + (
            [f"unknown {op} attributes {unknown}"] if unknown else []
        )
        raise error("; ".join(parts))


def is_s16(graph: Any, node: Any) -> bool:
    """The node runs a 16x8 kernel (``qc_<op>_s16``, ``reference/s16.py``): its first input is
    an int16 activation. Fusions, kernel families and scratch leave such nodes alone."""
    return bool(node.inputs) and graph.tensors[node.inputs[0]].dtype == "int16"


def split_conv_add(attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(conv2d attrs, add attrs without prefix, conv operand 1 or 2) of a ``conv2d_add`` node."""
    conv = {k: attrs[k] for k in CONV_ATTRS}
    add_attrs = {k: attrs[ADD_PREFIX + k] for k in ADD_ATTRS}
    operand = int(attrs["add_conv_operand"])
    if operand not in (1, 2):
        raise ValueError(f"add_conv_operand must be 1 or 2, got {operand}")
    return conv, add_attrs, operand


def split_pool_fc(attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(avg_pool2d attrs without prefix, fully_connected attrs, flatten) of an ``avg_pool_fc`` node."""
    check_attrs("avg_pool_fc", attrs)
    pool = {k: attrs[POOL_PREFIX + k] for k in POOL_ATTRS}
    fc = {k: attrs[k] for k in FC_ATTRS}
    return pool, fc, bool(attrs.get("flatten", True))
