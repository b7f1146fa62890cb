"""The op schema (``qcompile.ops``) against the code that must agree with it: the C header's
parameter structs, the reference kernels' keyword arguments, the executor and the planner."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from qcompile import ops
from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.memory import aliases, inplace
from qcompile.op_params import channel_multipliers
from qcompile.ops import structs
from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.executor import kernel, run_quantized
from qcompile.resources import runtime_dir


def _c_structs() -> dict[str, list[str]]:
    """Field names, in order, of every ``typedef struct {...} name;`` in qc_kernels.h."""
    text = (runtime_dir() / "include" / "qc_kernels.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    result = {}
    for body, name in re.findall(r"typedef struct\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
        fields: list[str] = []
        for decl in body.split(";"):
            decl = decl.strip()
            if decl:
                names = decl.split(None, 1)[1]
                fields += [re.sub(r"\[.*\]", "", n).strip() for n in names.split(",")]
        result[name] = fields
    return result


CONV = dict(strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1), groups=1, input_offset=3, output_offset=-2)
CONV |= dict(multiplier=np.array([1 << 30] * 4), shift=np.array([-3] * 4), act_min=-128, act_max=127)
ADD = {k: 0 for k in ops.ADD_ATTRS} | dict(left_shift=20, input1_multiplier=1 << 30, act_min=-128, act_max=127)
MUL = {k: 0 for k in ops.MUL_ATTRS} | dict(act_min=-128, act_max=127)
POOL = dict(kernel=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), act_min=-128, act_max=127)

BUILT = {
    "qc_conv_params": structs.conv_fields((1, 5, 5, 2), (4, 3, 3, 2), CONV, depthwise=False),
    "qc_fc_params": structs.fc_fields((2, 8), (3, 8), CONV),
    "qc_add_params": structs.add_fields((1, 4), (4,), ADD),
    "qc_mul_params": structs.mul_fields((2, 3), (2, 3), MUL),
    "qc_pool_params": structs.pool_fields((1, 4, 4, 3), POOL),
    "qc_softmax_params": structs.softmax_fields((2, 10), dict(input_multiplier=1, input_left_shift=2, diff_min=-9)),
    "qc_pad_params": structs.pad_fields((2, 3), dict(pads=[(0, 1), (1, 0)], pad_value=0)),
    "qc_transpose_params": structs.transpose_fields((2, 3), dict(perm=(1, 0))),
    "qc_broadcast_params": structs.broadcast_fields((2, 3), (3,), {}),
    "qc_prelu_params": structs.prelu_fields((1, 2, 3), (3,), {k: 0 for k in ops.PRELU_ATTRS}),
    "qc_mean_params": structs.mean_fields((1, 3, 3, 2), dict(input_offset=1, output_offset=0, multiplier=5, shift=1)),
    "qc_reduce_params": structs.reduce_fields((2, 3, 4), dict(axes=(1,), input_offset=1, multiplier=5, shift=-1)),
    "qc_gather_params": structs.gather_fields((2, 3, 4), dict(axis=1, indices=(2, 0))),
    "qc_resize_params": structs.resize_fields((1, 2, 3, 4), dict(size=(4, 6), align_corners=0, half_pixel_centers=1)),
    "qc_batch_matmul_params": structs.batch_matmul_fields(
        (2, 3, 4), (4, 5), {k: 0 for k in ops.BATCH_MATMUL_ATTRS} | dict(act_min=-128, act_max=127)
    ),
    "qc_strided_slice_params": structs.strided_slice_fields((2, 6), dict(begin=(0, 1), size=(2, 2), strides=(1, 2))),
    "qc_lstm_params": structs.lstm_fields(
        (2, 3, 5),
        (4, 6, 5),
        {k: (1, 2, 3, 4) if k.startswith("gate_") else 0 for k in ops.LSTM_ATTRS} | {"cell_clip": -1},
    ),
    "qc_layer_norm_params": structs.layer_norm_fields(
        (3, 8), dict(eps=1, out_shift=20, output_offset=0, act_min=-128, act_max=127)
    ),
    "qc_gru_params": structs.gru_fields(
        (4, 1, 3),
        {k: 0 for k in ops.GRU_ATTRS} | dict(hidden=5, directions=2, gate_multiplier=(0, 0, 0), gate_shift=(0, 0, 0)),
    ),
}


@pytest.mark.parametrize("ctype", sorted(BUILT))
def test_struct_fields_are_the_c_declaration(ctype: str) -> None:
    """Lowering renders these dicts as designated initialisers and the binding assigns them:
    the keys must be exactly the C fields, in declaration order."""
    assert list(BUILT[ctype]) == _c_structs()[ctype]


def test_every_schema_struct_is_declared_and_built() -> None:
    declared = _c_structs()
    used = {ctype for s in ops.SCHEMAS.values() for ctype in s.structs}
    assert used <= set(declared) and used == set(BUILT)


#: fused ops take their parts' attributes through ``**attrs`` (checked by their split helpers)
_FUSED = {"conv2d_add", "avg_pool_fc"}


@pytest.mark.parametrize("op", sorted(set(ops.SCHEMAS) - _FUSED))
def test_schema_attrs_are_the_reference_keywords(op: str) -> None:
    """Every op, built in or plug-in: its reference kernel's keywords are its schema's attributes."""
    fn = kernel(op, quantized=True)
    kw = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert tuple(kw) == ops.schema(op).attrs


def test_struct_builders_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="input_offset"):
        structs.conv_fields((1, 5, 5, 2), (4, 3, 3, 2), CONV | {"input_offset": 300}, depthwise=False)
    with pytest.raises(ValueError, match="does not fit"):
        structs.conv_fields((1, 2, 2, 2), (4, 5, 5, 2), CONV | {"pads": (0, 0, 0, 0)}, depthwise=False)
    with pytest.raises(ValueError, match="add_input1_shift"):
        structs.add_fields(None, None, ADD | {"input1_shift": 1}, prefix="add_")
    with pytest.raises(ValueError, match="act_min"):
        structs.pool_fields((1, 4, 4, 3), POOL | {"act_min": 5, "act_max": 4})
    assert structs.add_fields(None, None, ADD)["out_shape"] == (1, 1, 1, 1, 1)


def test_check_attrs_names_missing_and_unknown() -> None:
    with pytest.raises(ValueError, match=r"missing \['perm'\]"):
        ops.check_attrs("transpose", {})
    with pytest.raises(TypeError, match=r"unknown copy attributes \['x'\]"):
        ops.check_attrs("copy", {"x": 1}, TypeError)
    ops.check_attrs("avg_pool_fc", {k: 0 for k in ops.schema("avg_pool_fc").attrs if k != "flatten"})
    with pytest.raises(QCompileError, match="not a quantized op"):
        ops.schema("conv3d")


def test_executor_names_the_node_whose_attributes_drifted() -> None:
    g = Graph()
    g.add_tensor(Tensor("x", (2, 3), "int8"))
    g.add_tensor(Tensor("y", (3, 2), "int8"))
    g.inputs, g.outputs = ["x"], ["y"]
    g.add_node(Node("t0", "transpose", ["x"], ["y"], {"perm": (1, 0), "axes": (1, 0)}))
    with pytest.raises(QCompileError, match="node 't0'.*unknown transpose attributes"):
        run_quantized(g, [np.zeros((2, 3), np.int8)])


def test_planner_facts_come_from_the_schema() -> None:
    assert inplace.INPLACE_OPS == {
        "add": (0, 1),
        "lut": (0,),
        "conv2d_add": (3,),
        "maximum": (0, 1),
        "minimum": (0, 1),
        "prelu": (0,),
        "logistic": (0,),
        "tanh": (0,),
        "leaky_relu": (0,),
        "div": (0, 1),
    }
    assert aliases.ALIAS_OPS == {"reshape"}
    assert ops.scratch_ops() == {
        "conv2d": 2,
        "depthwise_conv2d": 2,
        "fully_connected": 2,
        "avg_pool2d": 1,
        "conv2d_add": 2,
        "avg_pool_fc": 2,
        "gru": 1,
    }


def test_channel_multipliers_one_function_for_both_importers() -> None:
    ws = np.array([0.01, 0.02, 0.5], dtype=np.float32)
    mult, shift = channel_multipliers(0.05, ws, 0.1)
    for c, w in enumerate(ws):
        assert (mult[c], shift[c]) == quantize_multiplier(0.05 * float(w) / 0.1)
    m1, s1 = channel_multipliers(0.05, np.array([0.02]), 0.1, 4)  # per-tensor weights: one pair per channel
    assert m1.tolist() == [m1[0]] * 4 and s1.tolist() == [s1[0]] * 4
    # float64 weight scales are rounded to float32 first, as TFLite stores them
    m2, _ = channel_multipliers(0.05, np.array([0.1 + 1e-12]), 0.1)
    assert m2[0] == channel_multipliers(0.05, np.array([np.float32(0.1)]), 0.1)[0][0]


def test_binding_wrappers_take_the_schema_attributes() -> None:
    """Each ``<op>_s8`` binding wrapper with explicit keywords takes exactly the schema's
    attributes (the fused ones take ``**attrs`` and check them against the schema)."""
    from runtime_ext import require_runtime

    rt = require_runtime()
    checked = 0
    for op, s in ops.SCHEMAS.items():
        fn = getattr(rt, f"{op}_s8", None)
        if fn is None or op in ("conv2d_add", "avg_pool_fc"):
            continue
        kw = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert tuple(kw) == s.attrs, op
        checked += 1
    assert checked >= 12
    with pytest.raises(TypeError, match="unknown conv2d_add attributes"):
        rt.conv2d_add_s8(np.zeros((1, 1, 1, 1), np.int8), np.zeros((1, 1, 1, 1), np.int8), None, None, bogus=1)
