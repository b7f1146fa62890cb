"""What every C lowering shares: literals, const arrays, layers, and the pointer and struct
helpers of :class:`LoweringBase`.

Apart from :mod:`qcompile.codegen.lowering` (the dispatch and the int8 lowerings) so that the
16x8 lowerings and the op plug-ins build on these helpers without importing the dispatch that
imports them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qcompile.codegen.names import Namer, comment_text
from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node
from qcompile.memory import Location, MemoryPlan

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

    def lower(self, lo: LoweringBase, layer: Layer, node: Node) -> int | None: ...

    def lower_s16(self, lo: LoweringBase, layer: Layer, node: Node) -> int | None: ...


class LoweringBase:
    """Turns a planned graph into layers and const arrays (the dispatch, ``lower``, is
    :class:`qcompile.codegen.lowering.Lowering`).

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
        self.band_calls: dict[str, Callable[..., str]] = {}  # row-streamed nodes (codegen/streaming.py)

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


def _int32_array(values: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size == 1 and n > 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise ValueError(f"{what} has {arr.size} entries, expected {n}")
    return arr


def _bias(lo: LoweringBase, node: Node, n: int) -> str:
    if len(node.inputs) > 2 and node.inputs[2]:
        return lo.src(node.inputs[2])
    return lo.array("q", f"{node.name}_zero_bias", "int32_t", np.zeros(n, dtype=np.int64), f"{node.name} zero bias")


def _requant_arrays(lo: LoweringBase, node: Node, n: int) -> tuple[str, str]:
    mult = _int32_array(node.attrs["multiplier"], n, "multiplier")
    shift = _int32_array(node.attrs["shift"], n, "shift")
    m = lo.array("q", f"{node.name}_multiplier", "int32_t", mult, f"{node.name} multiplier")
    s = lo.array("q", f"{node.name}_shift", "int32_t", shift, f"{node.name} shift")
    return m, s


def _struct_call(lo: LoweringBase, layer: Layer, node: Node, ctype: str, fields: dict[str, Any], fn: str) -> int:
    """The one-input kernels' lowering: a ``ctype`` struct of ``fields``, then
    ``fn(&struct, input, output)`` checked; no MACs counted (data movement, softmax)."""
    params = lo.struct(layer, ctype, fields)
    lo.call(layer, fn, [f"&{params}", lo.src(node.inputs[0]), lo.dst(node.outputs[0])], checked=True)
    return 0


def _table_call(lo: LoweringBase, layer: Layer, node: Node, ctype: str, entries: int, fn: str) -> int:
    """The table kernels' lowering (``qc_lut_s8``: 256 int8 entries; ``qc_lut_s16``: 513 int16
    entries, interpolated): the node's ``table`` as a const array, then ``fn(table, input,
    output, size)`` checked."""
    table = np.asarray(node.attrs["table"]).reshape(-1)
    info = np.iinfo(ctype.removesuffix("_t"))
    if table.size != entries or table.min() < info.min or table.max() > info.max:
        raise ValueError(f"a {ctype} lut table must have {entries} entries in [{info.min}, {info.max}]")
    label = "lookup table" if ctype == "int8_t" else "int16 lookup table"
    ident = lo.array("q", f"{node.name}_table", ctype, table, f"{node.name} {label}")
    x, y = node.inputs[0], node.outputs[0]
    lo.call(layer, fn, [ident, lo.src(x), lo.dst(y), c_int(math.prod(lo.shape(x)))], checked=True)
    return 0


def _check_output(fields: dict[str, Any], keys: tuple[str, ...], shape: tuple[int, ...]) -> None:
    """The struct's output geometry must be the graph's output shape."""
    got = tuple(int(fields[k]) for k in keys)
    if got != tuple(shape):
        raise ValueError(f"parameters give output {list(got)}, the graph says {list(shape)}")
