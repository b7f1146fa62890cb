"""Lower each quantized node to straight-line C: a constant parameter struct and one kernel call.

Every shape and parameter becomes a compile-time constant (``static const`` structs in
``<name>.c``, const arrays in ``<name>_weights.c``); buffers are the caller's input and
output pointers, const arrays, or ``arena + offset`` from the memory plan. Node
attributes are read exactly as ``docs/QUANTIZATION.md`` names them; the C parameter
structs are the field dicts of :mod:`qcompile.ops.structs`, the very dicts the Cython
binding assigns to its structs, so the generated model and the host tests cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qcompile import op_params
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.codegen.names import Namer, comment_text
from qcompile.errors import QCompileError, UnsupportedModelError
from qcompile.ir import Graph, Node
from qcompile.memory import Location, MemoryPlan
from qcompile.ops import is_s16, split_conv_add, split_pool_fc, structs

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
_CTYPES = {"int8": "int8_t", "int32": "int32_t", "uint8": "uint8_t", "int16": "int16_t", "int64": "int64_t"}
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def region_array(cname: str, region: str) -> str:
    """The C array of a memory region other than the fastest (``--memory-regions``)."""
    return f"{cname}_arena_{region}"


def c_int(value: int) -> str:
    """An int32 literal that is valid C for every value (INT32_MIN has no literal)."""
    value = int(value)
    if not INT32_MIN <= value <= INT32_MAX:
        raise QCompileError(f"integer parameter {value} does not fit int32")
    if value == INT32_MIN:
        return "(-2147483647 - 1)"
    return str(value)


def c_int64(value: int) -> str:
    """An int64 literal (the 16x8 biases): ``INT64_C(...)``, INT64_MIN spelt as an expression."""
    value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise QCompileError(f"integer parameter {value} does not fit int64")
    if value == INT64_MIN:
        return "(-INT64_C(9223372036854775807) - 1)"
    return f"INT64_C({value})"


def c_float(value: float) -> str:
    """A double literal that round-trips exactly (Python's shortest repr)."""
    value = float(value)
    if not math.isfinite(value):
        raise QCompileError(f"non-finite quantization scale {value}")
    text = repr(value)
    return text if any(c in text for c in ".e") else text + ".0"


@dataclass
class ConstArray:
    """A const array in ``<name>_weights.c``."""

    ident: str
    ctype: str
    values: np.ndarray
    comment: str

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * np.dtype(self.ctype.removesuffix("_t")).itemsize

    def body_lines(self, per_line: int = 16) -> list[str]:
        literal = c_int64 if self.ctype == "int64_t" else c_int
        items = [literal(v) for v in self.values.reshape(-1).tolist()]
        return [", ".join(items[i : i + per_line]) + "," for i in range(0, len(items), per_line)]


@dataclass
class Layer:
    """One node's C: struct definitions (file scope) and statements (inside the run function)."""

    index: int
    op: str
    comment: str
    params: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    extra_report: dict[str, Any] = field(default_factory=dict)  # op-specific report keys


class Specialiser(Protocol):
    """What lowering needs from a kernel family (``codegen.families.KernelFamily``), declared
    here so that this module does not import the registry that imports it."""

    def lower(self, lo: Lowering, layer: Layer, node: Node) -> int | None: ...


class Lowering:
    """Turns a planned graph into layers and const arrays.

    ``family`` may specialise any node (its ``lower`` returns the MACs, or None for the
    portable kernel); without one every node gets the portable runtime kernel."""

    def __init__(
        self, graph: Graph, plan: MemoryPlan, cname: str, namer: Namer, family: Specialiser | None = None
    ) -> None:
        self.graph = graph
        self.plan = plan
        self.cname = cname
        self.namer = namer
        self.family = family
        self.arrays: list[ConstArray] = []
        self.functions: set[str] = set()
        self.kernel_sources: list[str] = []  # per-layer C functions for <name>_kernels.c (specialised families)
        self._tensor_arrays: dict[str, str] = {}

    # -- constants --------------------------------------------------------------------
    def array(self, kind: str, part: str, ctype: str, values: np.ndarray, comment: str) -> str:
        values = np.asarray(values).reshape(-1).astype(np.int64)
        if values.size == 0:
            raise QCompileError(f"empty constant {comment!r}")
        ident = self.namer.unique(f"{self.cname}_{kind}", part)
        self.arrays.append(ConstArray(ident, ctype, values, comment_text(comment)))
        return ident

    def tensor_array(self, name: str) -> str:
        """The const array holding constant tensor ``name`` (emitted once)."""
        if name not in self._tensor_arrays:
            t = self.graph.tensors[name]
            ctype = _CTYPES.get(t.dtype)
            if ctype is None or t.data is None:
                raise QCompileError(f"constant {name!r} has dtype {t.dtype}; the generated code takes int8/int32 only")
            data = np.asarray(t.data)
            info = np.iinfo(data.dtype) if data.dtype.kind in "iu" else None
            if info is None or info.bits > (64 if ctype == "int64_t" else 32):
                raise QCompileError(f"constant {name!r} holds {data.dtype} data, expected {t.dtype}")
            self._tensor_arrays[name] = self.array("w", name, ctype, data, f"{name} {list(t.shape)} {t.dtype}")
        return self._tensor_arrays[name]

    # -- pointers -----------------------------------------------------------------------
    def _loc(self, name: str) -> Location:
        loc = self.plan.locations.get(name)
        if loc is None:
            raise QCompileError(f"tensor {name!r} has no planned location")
        return loc

    def _elem(self, name: str) -> str:
        """C element type of activation ``name``: int8_t, or int16_t (16x8)."""
        return "int16_t" if self.graph.tensors[name].dtype == "int16" else "int8_t"

    def src(self, name: str) -> str:
        """A read pointer expression for tensor ``name`` (typed by its element type; the
        caller's pointer arrays carry int8_t pointers, cast back for int16 tensors)."""
        loc = self._loc(name)
        elem = self._elem(name)
        if loc.kind in ("input", "output"):
            ptr = f"{loc.kind}s[{loc.index}]"
            return ptr if elem == "int8_t" else f"(const {elem} *){ptr}"
        if loc.kind == "const":
            return self.tensor_array(loc.tensor)
        return f"(const {elem} *)({self.region_base(loc.region)} + {loc.offset})"

    def dst(self, name: str) -> str:
        """A write pointer expression for tensor ``name`` (never an input or a constant)."""
        loc = self._loc(name)
        elem = self._elem(name)
        if loc.kind == "output":
            return f"outputs[{loc.index}]" if elem == "int8_t" else f"({elem} *)outputs[{loc.index}]"
        if loc.kind == "arena":
            return f"({elem} *)({self.region_base(loc.region)} + {loc.offset})"
        raise QCompileError(f"tensor {name!r} would be written into a read-only {loc.kind} buffer")

    def scratch(self, node: Node) -> str:
        if node.name in self.plan.scratch_offsets:
            base = self.region_base(self.plan.scratch_regions.get(node.name, 0))
            return f"(void *)({base} + {self.plan.scratch_offsets[node.name]})"
        return "NULL"

    def region_base(self, region: int) -> str:
        """The byte pointer of memory region ``region``: the arena (0) or the region's own array."""
        return "arena" if region == 0 else region_array(self.cname, self.plan.regions[region].region.name)

    def _location_report(self, name: str) -> dict[str, Any]:
        """Where the layer's output lives once it has run (host debug builds read it there)."""
        loc = self._loc(name)
        if loc.kind == "arena":
            if loc.region:
                return {"kind": "arena", "offset": int(loc.offset), "region": int(loc.region)}
            return {"kind": "arena", "offset": int(loc.offset)}
        return {"kind": loc.kind, "index": int(loc.index)}

    # -- helpers --------------------------------------------------------------------------
    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d) for d in self.graph.tensors[name].shape)

    def struct(self, layer: Layer, ctype: str, fields: dict[str, Any]) -> str:
        ident = f"{self.cname}_l{layer.index}"
        lines = [f"static const {ctype} {ident} = {{"]
        for key, value in fields.items():
            if isinstance(value, list | tuple):
                lines.append(f"    .{key} = {{{', '.join(c_int(v) for v in value)}}},")
            else:
                lines.append(f"    .{key} = {c_int(value)},")
        lines.append("};")
        layer.params.append("\n".join(lines))
        return ident

    def call(self, layer: Layer, fn: str, args: list[str], *, checked: bool) -> None:
        self.functions.add(fn)
        text = f"{fn}({', '.join(args)})"
        if checked:
            layer.statements.append(f"if ({text} != QC_OK) {{\n        return {layer.index + 1};\n    }}")
        else:
            layer.statements.append(f"{text};")

    def copy(self, layer: Layer, src: str, dst: str, size: int) -> None:
        """Copy ``size`` bytes (qc_copy_s8 is a memmove; int16 pointers are passed as bytes)."""
        if "int16_t" in src or "int16_t" in dst:
            src, dst = f"(const int8_t *){src}", f"(int8_t *){dst}"
        self.call(layer, "qc_copy_s8", [src, dst, c_int(size)], checked=True)

    # -- entry ----------------------------------------------------------------------------
    def lower(self, index: int, node: Node) -> Layer:
        s16 = is_s16(self.graph, node)
        if s16:
            from qcompile.codegen.lowering_s16 import S16_LOWERINGS  # it imports this module's helpers

            lower_fn = S16_LOWERINGS.get(node.op)
            if lower_fn is None:
                raise UnsupportedModelError(f"node {node.name!r}: op {node.op!r} has no 16x8 (int16) kernel yet")
        else:
            lower_fn = _LOWERINGS.get(node.op) or LOWERINGS.get(node.op)
        if lower_fn is None:
            raise UnsupportedModelError(f"node {node.name!r}: op {node.op!r} has no C lowering")
        layer = Layer(index, node.op, comment_text(f"{node.op} {node.name}"))
        try:
            # a family specialises int8 layers only; None: the portable kernel
            macs = None if self.family is None or s16 else self.family.lower(self, layer, node)
            if macs is None:
                macs = lower_fn(self, layer, node)
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise QCompileError(f"node {node.name!r} ({node.op}): cannot generate C: {exc}") from exc
        out_t = self.graph.tensors[node.outputs[0]]
        q = out_t.quant
        layer.report = {
            "op": node.op,
            "name": node.name,
            "inputs": [list(self.shape(i)) for i in node.inputs if i and not self.graph.tensors[i].is_constant],
            "output": list(out_t.shape),
            "macs": int(macs),
            "output_scale": float(q.scale) if q is not None and not q.per_channel else None,
            "output_zero_point": int(q.zero_point) if q is not None and not q.per_channel else None,
            "scratch_bytes": int(self.plan.scratch_sizes.get(node.name, 0)),
            "output_location": self._location_report(node.outputs[0]),
        }
        layer.report.update(layer.extra_report)
        return layer


# ---- per-op lowerings (return the layer's MAC count) -----------------------------------


def _int32_array(values: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size == 1 and n > 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise ValueError(f"{what} has {arr.size} entries, expected {n}")
    return arr


def _bias(lo: Lowering, node: Node, n: int) -> str:
    if len(node.inputs) > 2 and node.inputs[2]:
        return lo.src(node.inputs[2])
    return lo.array("q", f"{node.name}_zero_bias", "int32_t", np.zeros(n, dtype=np.int64), f"{node.name} zero bias")


def _requant_arrays(lo: Lowering, node: Node, n: int) -> tuple[str, str]:
    mult = _int32_array(node.attrs["multiplier"], n, "multiplier")
    shift = _int32_array(node.attrs["shift"], n, "shift")
    m = lo.array("q", f"{node.name}_multiplier", "int32_t", mult, f"{node.name} multiplier")
    s = lo.array("q", f"{node.name}_shift", "int32_t", shift, f"{node.name} shift")
    return m, s


def _conv_like(lo: Lowering, layer: Layer, node: Node, depthwise: bool) -> int:
    a = node.attrs
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    xs, ws, ys = lo.shape(x), lo.shape(w), lo.shape(y)
    fields = structs.conv_fields(xs, ws, a, depthwise=depthwise)
    _check_output(fields, ("batches", "out_h", "out_w", "out_c"), ys)
    taps = ws[0] * ws[1] if depthwise else ws[1] * ws[2] * ws[3]
    params = lo.struct(layer, "qc_conv_params", fields)
    m, s = _requant_arrays(lo, node, ys[3])
    fn = "qc_depthwise_conv2d_s8" if depthwise else "qc_conv2d_s8"
    args = [f"&{params}", lo.src(x), lo.src(w), _bias(lo, node, ys[3]), m, s, lo.dst(y), lo.scratch(node)]
    band = lo.plan.row_bands.get(node.name)
    if band is not None and not depthwise:
        # scratch in dead arena bytes: the planner's row bands (qc_conv2d_rows.c)
        fn = "qc_conv2d_rows_s8"
        args[1:1] = [c_int(band[0]), c_int(band[1])]
        layer.extra_report["row_band"] = list(band)
    lo.call(layer, fn, args, checked=True)
    return math.prod(ys) * taps


def _check_output(fields: dict[str, Any], keys: tuple[str, ...], shape: tuple[int, ...]) -> None:
    """The struct's output geometry must be the graph's output shape."""
    got = tuple(int(fields[k]) for k in keys)
    if got != tuple(shape):
        raise ValueError(f"parameters give output {list(got)}, the graph says {list(shape)}")


def _conv2d(lo: Lowering, layer: Layer, node: Node) -> int:
    return _conv_like(lo, layer, node, depthwise=False)


def _depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    return _conv_like(lo, layer, node, depthwise=True)


def _fully_connected(lo: Lowering, layer: Layer, node: Node) -> int:
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    fields = structs.fc_fields(lo.shape(x), lo.shape(w), node.attrs)
    rows, n, k = fields["batches"], fields["out_features"], fields["in_features"]
    params = lo.struct(layer, "qc_fc_params", fields)
    m, s = _requant_arrays(lo, node, n if fields["per_channel"] else 1)
    args = [f"&{params}", lo.src(x), lo.src(w), _bias(lo, node, n), m, s, lo.dst(y), lo.scratch(node)]
    lo.call(layer, "qc_fully_connected_s8", args, checked=True)
    return rows * n * k


def _binary(lo: Lowering, layer: Layer, node: Node, fn: str, ctype: str, fields: dict[str, Any]) -> int:
    x1, x2, y = node.inputs[0], node.inputs[1], node.outputs[0]
    out5 = fields["out_shape"]
    if math.prod(out5) != math.prod(lo.shape(y)):
        raise ValueError(f"broadcast shape {out5} does not match the output {lo.shape(y)}")
    params = lo.struct(layer, ctype, fields)
    lo.call(layer, fn, [f"&{params}", lo.src(x1), lo.src(x2), lo.dst(y)], checked=True)
    return math.prod(out5) if fn == "qc_mul_s8" else 0


def _add(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.add_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _binary(lo, layer, node, "qc_add_s8", "qc_add_params", fields)


def _mul(lo: Lowering, layer: Layer, node: Node) -> int:
    fields = structs.mul_fields(lo.shape(node.inputs[0]), lo.shape(node.inputs[1]), node.attrs)
    return _binary(lo, layer, node, "qc_mul_s8", "qc_mul_params", fields)


def _pool(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.pool_fields(lo.shape(x), a)
    _check_output(fields, ("batches", "out_h", "out_w", "channels"), lo.shape(y))
    params = lo.struct(layer, "qc_pool_params", fields)
    if node.op == "max_pool2d":
        lo.call(layer, "qc_max_pool2d_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    else:
        lo.call(layer, "qc_avg_pool2d_s8", [f"&{params}", lo.src(x), lo.dst(y), lo.scratch(node)], checked=True)
    return 0


def _softmax(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.softmax_fields(lo.shape(x), node.attrs)
    params = lo.struct(layer, "qc_softmax_params", fields)
    lo.call(layer, "qc_softmax_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _lut(lo: Lowering, layer: Layer, node: Node) -> int:
    table = np.asarray(node.attrs["table"]).reshape(-1)
    if table.size != 256 or table.min() < -128 or table.max() > 127:
        raise ValueError("lut table must have 256 int8 entries")
    ident = lo.array("q", f"{node.name}_table", "int8_t", table, f"{node.name} lookup table")
    x, y = node.inputs[0], node.outputs[0]
    lo.call(layer, "qc_lut_s8", [ident, lo.src(x), lo.dst(y), c_int(math.prod(lo.shape(x)))], checked=True)
    return 0


def _concat(lo: Lowering, layer: Layer, node: Node) -> int:
    """Byte concatenation (qc_concat_s8); int16 tensors pass byte pointers and byte sizes."""
    y = node.outputs[0]
    outer, inner = op_params.concat_layout([lo.shape(i) for i in node.inputs], node.attrs["axis"])
    item = np.dtype(lo.graph.tensors[y].dtype).itemsize
    what = "concat slice sizes" if item == 1 else "concat slice bytes"
    sizes = lo.array("q", f"{node.name}_sizes", "int32_t", item * np.asarray(inner), f"{node.name} {what}")
    cast, out_cast = ("", "") if item == 1 else ("(const int8_t *)", "(int8_t *)")
    ptrs = ", ".join(cast + lo.src(i) for i in node.inputs)
    n = len(node.inputs)
    lo.functions.add("qc_concat_s8")
    layer.statements.append(
        f"{{\n        const int8_t *const parts[{n}] = {{{ptrs}}};\n"
        f"        if (qc_concat_s8({c_int(outer)}, {n}, parts, {sizes}, {out_cast}{lo.dst(y)}) != QC_OK) {{\n"
        f"            return {layer.index + 1};\n        }}\n    }}"
    )
    return 0


def _pad(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    params = lo.struct(layer, "qc_pad_params", structs.pad_fields(lo.shape(x), node.attrs))
    lo.call(layer, "qc_pad_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _transpose(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    params = lo.struct(layer, "qc_transpose_params", structs.transpose_fields(lo.shape(x), node.attrs))
    lo.call(layer, "qc_transpose_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _reshape(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    if node.name in lo.plan.copy_reshapes:
        lo.copy(layer, lo.src(x), lo.dst(y), lo.graph.tensors[y].nbytes)
    else:
        layer.statements.append(f"/* alias: {comment_text(y)} shares the buffer of {comment_text(x)} */")
    return 0


def _copy(lo: Lowering, layer: Layer, node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    lo.copy(layer, lo.src(x), lo.dst(y), lo.graph.tensors[y].nbytes)
    return 0


def _conv2d_add(lo: Lowering, layer: Layer, node: Node) -> int:
    """conv2d with the residual add fused into its epilogue (qc_conv2d_add_s8); the output
    may be the residual's buffer (in place, see the planner)."""
    a, add_attrs, operand = split_conv_add(node.attrs)
    x, w, _, residual = node.inputs
    y = node.outputs[0]
    xs, ws, ys = lo.shape(x), lo.shape(w), lo.shape(y)
    if lo.shape(residual) != ys:
        raise ValueError(f"expects a residual of the output's shape {ys}, got {lo.shape(residual)}")
    conv_fields = structs.conv_fields(xs, ws, a, depthwise=False)
    _check_output(conv_fields, ("batches", "out_h", "out_w", "out_c"), ys)
    conv_params = lo.struct(layer, "qc_conv_params", conv_fields)
    add_layer = Layer(layer.index, "add", layer.comment)
    add_params = lo.struct(add_layer, "qc_add_params", structs.add_fields(None, None, add_attrs, prefix="add_"))
    add_ident = f"{add_params}_add"
    layer.params.append(add_layer.params[0].replace(f" {add_params} = ", f" {add_ident} = ", 1))
    conv_node = Node(node.name, "conv2d", [x, w, node.inputs[2]], [y], a)
    m, s = _requant_arrays(lo, conv_node, ys[3])
    args = [f"&{conv_params}", f"&{add_ident}", c_int(operand), lo.src(x), lo.src(w), _bias(lo, conv_node, ys[3])]
    args += [m, s, lo.src(residual), lo.dst(y), lo.scratch(node)]
    fn = "qc_conv2d_add_s8"
    band = lo.plan.row_bands.get(node.name)
    if band is not None:
        # scratch in dead arena bytes: the planner's row bands (qc_conv2d_rows.c)
        fn = "qc_conv2d_add_rows_s8"
        args[3:3] = [c_int(band[0]), c_int(band[1])]
        layer.extra_report["row_band"] = list(band)
    lo.call(layer, fn, args, checked=True)
    layer.extra_report.update(fused=["conv2d", "add"], inplace_over=lo.plan.inplace.get(node.name))
    return math.prod(ys) * ws[1] * ws[2] * ws[3]


def _avg_pool_fc(lo: Lowering, layer: Layer, node: Node) -> int:
    """Global average pool + fully connected (qc_avg_pool_fc_s8): the pooled vector lives in
    the node's scratch, not in the arena. Every target family uses this portable kernel
    (the FC of a model head is a few hundred MACs; the DSP family does not specialise it)."""
    pool_attrs, fc_attrs, _ = split_pool_fc(node.attrs)
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    xs = lo.shape(x)
    n, k = lo.shape(w)
    pool_fields = structs.pool_fields(xs, pool_attrs)
    if (pool_fields["out_h"], pool_fields["out_w"], pool_fields["channels"]) != (1, 1, k):
        raise ValueError(f"avg_pool_fc needs a global pool to {k} channels, got input {xs}")
    if math.prod(lo.shape(y)) != xs[0] * n:
        raise ValueError(f"avg_pool_fc output {lo.shape(y)} does not match [{xs[0]}, {n}]")
    pool_layer = Layer(layer.index, "avg_pool2d", layer.comment)
    pool_params = lo.struct(pool_layer, "qc_pool_params", pool_fields)
    pool_ident = f"{pool_params}_pool"
    layer.params.append(pool_layer.params[0].replace(f" {pool_params} = ", f" {pool_ident} = ", 1))
    fc_fields = structs.fc_fields((xs[0], k), (n, k), fc_attrs)
    per_channel = fc_fields["per_channel"]
    fc_params = lo.struct(layer, "qc_fc_params", fc_fields)
    m, s = _requant_arrays(lo, node, n if per_channel else 1)
    args = [f"&{pool_ident}", f"&{fc_params}", lo.src(x), lo.src(w), _bias(lo, node, n), m, s]
    args += [lo.dst(y), lo.scratch(node)]
    lo.call(layer, "qc_avg_pool_fc_s8", args, checked=True)
    chain = ["avg_pool2d"] + (["reshape"] if node.attrs.get("flatten", 1) else []) + ["fully_connected"]
    layer.extra_report.update(fused=chain)
    return xs[0] * n * k


def _mean(lo: Lowering, layer: Layer, node: Node) -> int:
    """TFLite MEAN over H and W (``qcompile.reference.reduce.mean``)."""
    x, y = node.inputs[0], node.outputs[0]
    fields = structs.mean_fields(lo.shape(x), node.attrs)
    if math.prod(lo.shape(y)) != fields["batches"] * fields["channels"]:
        raise ValueError(f"mean reduces H and W of an [N,H,W,C] tensor, got {lo.shape(x)} -> {lo.shape(y)}")
    params = lo.struct(layer, "qc_mean_params", fields)
    lo.call(layer, "qc_mean_s8", [f"&{params}", lo.src(x), lo.dst(y)], checked=True)
    return 0


def _requantize(lo: Lowering, layer: Layer, node: Node) -> int:
    """int8 -> int16 conversion (an int8 node: its input is int8); the kernels are the 16x8 ones."""
    from qcompile.codegen.lowering_s16 import lower_requantize

    return lower_requantize(lo, layer, node)


_LOWERINGS: dict[str, Callable[[Lowering, Layer, Node], int]] = {
    "conv2d": _conv2d,
    "depthwise_conv2d": _depthwise,
    "fully_connected": _fully_connected,
    "add": _add,
    "mul": _mul,
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "softmax": _softmax,
    "lut": _lut,
    "concat": _concat,
    "pad": _pad,
    "transpose": _transpose,
    "reshape": _reshape,
    "copy": _copy,
    "conv2d_add": _conv2d_add,
    "avg_pool_fc": _avg_pool_fc,
    "mean": _mean,
    "requantize": _requantize,
}


def supported_ops() -> frozenset[str]:
    """Every quantized op with a portable C lowering: the built-in table and the ``lowerings`` plug-ins."""
    return frozenset(_LOWERINGS) | frozenset(LOWERINGS)
