"""Static shapes for ONNX models: ``--input-shape`` and folding of shape subgraphs.

Exporters (torch.onnx with ``dynamic_axes``, paddle2onnx, tf2onnx) leave input dimensions
symbolic and compute the shapes that Reshape, Expand, Resize or Tile need at run time:
``Shape -> Gather -> Cast -> Concat -> Reshape``, ``Range``, ``ConstantOfShape``,
arithmetic on shape vectors. A microcontroller build has every shape fixed, so:

1. :func:`fix_input_shapes` sets the dimensions the user gave (``--input-shape
   NAME=1,3,48,192``; a symbolic batch axis 0 defaults to 1), and refuses any other
   dynamic dimension with one error naming the input, the axis and the flag to use.
2. :func:`fold_shape_subgraphs` then alternates ONNX shape inference (with data
   propagation) and evaluation of every node whose inputs are now known (initializers,
   folded values, and ``Shape``/``Size`` of tensors whose inferred shape is static),
   replacing each such node by initializers of the same names, until nothing changes.

Why onnx's own shape inference and reference evaluator rather than onnx-simplifier or
onnxruntime's offline optimiser: calibration, ``verify`` and ``report`` run onnxruntime on
the *unmodified* source model and read intermediate tensors by their names, so the import
must keep every activation's name and node. onnxsim and ORT's optimised-model output fuse
nodes (Conv+BN, Conv+Add, MatMul+Add) and rename or drop tensors; they also pull a
compiled extension pinned to particular onnx versions. Folding only what is computable
from constants and static shapes, with the two onnx components that define the
semantics, leaves every activation untouched and needs no new dependency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from qcompile.errors import QCompileError
from qcompile.limits import MAX_TENSOR_ELEMENTS, check_shape

#: Nodes never folded: random values, and ops with subgraphs or side inputs we do not evaluate.
_NO_FOLD = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"})
_MAX_ROUNDS = 64


def parse_input_shapes(items: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """``["x=1,3,48,192", ...]`` (the ``--input-shape`` values) to ``{"x": (1, 3, 48, 192)}``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = str(item).rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape:
            raise QCompileError(f"--input-shape {item!r}: expected NAME=D0,D1,... (e.g. input=1,3,48,192)")
        if name in shapes:
            raise QCompileError(f"--input-shape gives input {name!r} twice")
        shapes[name] = shape
    return shapes


def fix_input_shapes(model: onnx.ModelProto, path: str, shapes: Mapping[str, Sequence[int]] | None = None) -> None:
    """Give every graph input a static shape (in place); clear inferred shapes.

    ``shapes`` maps input names to full shapes. A given shape must have the input's rank
    and agree with its static dimensions. A symbolic axis 0 without a given shape is the
    batch and becomes 1, and so does that symbol wherever another input has it (a PyTorch
    state ``h0 [layers, batch, hidden]`` exported with ``batch`` dynamic); any other symbolic
    dimension is an error naming the flag."""
    shapes = {k: tuple(int(d) for d in v) for k, v in (shapes or {}).items()}
    inits = {i.name for i in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in inits and vi.type.HasField("tensor_type")]
    unknown = sorted(set(shapes) - {vi.name for vi in inputs})
    if unknown:
        raise QCompileError(
            f"{path}: --input-shape names {', '.join(map(repr, unknown))}, which is not a model input "
            f"(inputs: {', '.join(repr(vi.name) for vi in inputs)})"
        )
    errors = []
    batch = _batch_symbols(inputs, shapes)
    for vi in inputs:
        dims = vi.type.tensor_type.shape.dim
        given = shapes.get(vi.name)
        if given is not None:
            _apply_given(vi, given, path)
            continue
        missing = [
            (axis, d.dim_param or "?")
            for axis, d in enumerate(dims)
            if not (d.HasField("dim_value") and d.dim_value > 0)
        ]
        for axis, label in list(missing):
            if axis == 0 or label in batch:
                dims[axis].Clear()
                dims[axis].dim_value = 1
                missing.remove((axis, label))
        if missing:
            shown = ", ".join(f"{label!r} at axis {axis}" for axis, label in missing)
            example = ",".join(str(d.dim_value) if d.dim_value > 0 else "N" for d in dims)
            errors.append(
                f"input {vi.name!r} has dynamic dimension(s) {shown}: fix them with --input-shape "
                f"{vi.name}={example.replace('N', '?')} (every dimension a number)"
            )
    if errors:
        raise QCompileError(f"{path}: " + "; ".join(errors))
    for vi in model.graph.output:
        if vi.type.HasField("tensor_type"):
            for d in vi.type.tensor_type.shape.dim:
                if not d.HasField("dim_value"):
                    d.Clear()  # outputs are re-inferred
    del model.graph.value_info[:]


def _batch_symbols(inputs: Sequence[onnx.ValueInfoProto], shapes: Mapping[str, Sequence[int]]) -> set[str]:
    """The named symbols of the inputs' symbolic axis 0 (the batch, fixed to 1)."""
    symbols = set()
    for vi in inputs:
        dims = vi.type.tensor_type.shape.dim
        if vi.name not in shapes and dims and not dims[0].HasField("dim_value") and dims[0].dim_param:
            symbols.add(dims[0].dim_param)
    return symbols


def _apply_given(vi: onnx.ValueInfoProto, given: tuple[int, ...], path: str) -> None:
    dims = vi.type.tensor_type.shape.dim
    if vi.type.tensor_type.HasField("shape") and len(dims) != len(given):
        raise QCompileError(
            f"{path}: --input-shape {vi.name}={','.join(map(str, given))} has rank {len(given)}, "
            f"but input {vi.name!r} has rank {len(dims)}"
        )
    check_shape(given, f"{path}: --input-shape {vi.name}")
    for axis, (d, value) in enumerate(zip(dims, given, strict=False)):
        if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != value:
            raise QCompileError(
                f"{path}: --input-shape {vi.name}={','.join(map(str, given))} sets axis {axis} to {value}, "
                f"but the model fixes it to {d.dim_value}"
            )
    vi.type.tensor_type.ClearField("shape")
    shape = vi.type.tensor_type.shape
    for value in given:
        shape.dim.add().dim_value = int(value)


# ----------------------------------------------------------------------------------------
# folding
# ----------------------------------------------------------------------------------------
def _static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    g = model.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") and d.dim_value >= 0 for d in tt.shape.dim):
            out[vi.name] = tuple(int(d.dim_value) for d in tt.shape.dim)
    return out


def _shape_value(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    if node.op_type == "Size":
        return np.array(math.prod(shape), dtype=np.int64)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start, end = int(attrs.get("start", 0)), int(attrs.get("end", rank))
    start, end = (s + rank if s < 0 else s for s in (start, end))
    return np.array(shape[max(start, 0) : min(end, rank)], dtype=np.int64)


def _evaluate(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    ev = ReferenceEvaluator(node, opsets={"": opset})
    return [np.asarray(v) for v in ev.run(None, feeds)]


def _foldable(node: onnx.NodeProto, known: Mapping[str, np.ndarray]) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type in _NO_FOLD:
        return False
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return False
    ins = [i for i in node.input if i]
    return node.op_type == "Constant" or (bool(ins) and all(i in known for i in ins))


def _fold_round(model: onnx.ModelProto, path: str, opset: int) -> bool:
    """One pass over the nodes; True when some node became initializers."""
    g = model.graph
    shapes = _static_shapes(model)
    known = {i.name: i for i in g.initializer}
    values: dict[str, np.ndarray] = {}
    keep, new_inits = [], []
    graph_outputs = {o.name for o in g.output}
    for idx, node in enumerate(g.node):
        ins = [i for i in node.input if i]
        result: list[np.ndarray] | None = None
        if node.op_type in ("Shape", "Size") and len(ins) == 1 and ins[0] in shapes and ins[0] not in known:
            result = [_shape_value(node, shapes[ins[0]])]
        elif _foldable(node, known) and not (set(node.output) & graph_outputs):
            feeds = {}
            for i in ins:
                if i not in values:
                    values[i] = numpy_helper.to_array(known[i])
                feeds[i] = values[i]
            try:
                result = _evaluate(node, feeds, opset)
            except Exception as exc:
                label = node.name or f"#{idx}"
                raise QCompileError(
                    f"{path}: node {label!r} ({node.op_type}) of a constant (shape) subgraph cannot be evaluated: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                ) from exc
        if result is None:
            keep.append(node)
            continue
        for name, value in zip(node.output, result, strict=False):
            if not name:
                continue
            if value.size > MAX_TENSOR_ELEMENTS:
                raise QCompileError(
                    f"{path}: node {node.name or f'#{idx}'!r} ({node.op_type}) computes a constant of "
                    f"{value.size:,} elements, above qcompile's limit"
                )
            try:
                init = numpy_helper.from_array(value, name)
            except Exception as exc:  # object arrays (sequences), unsupported element types
                raise QCompileError(
                    f"{path}: node {node.name or f'#{idx}'!r} ({node.op_type}) computes a constant qcompile cannot "
                    f"store ({type(exc).__name__}); the model is not supported"
                ) from exc
            known[name] = init
            values[name] = value
            new_inits.append(init)
    if not new_inits:
        return False
    del g.node[:]
    g.node.extend(keep)
    g.initializer.extend(new_inits)
    return True


def fold_shape_subgraphs(model: onnx.ModelProto, path: str, opset: int) -> onnx.ModelProto:
    """Shape inference and constant folding to a fixed point (see the module docstring).

    Returns the folded model with inferred shapes; activations keep their nodes and names."""
    for _ in range(_MAX_ROUNDS):
        try:
            model = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # the strict inference that follows import names the problem
            return model
        if not _fold_round(model, path, opset):
            return model
        del model.graph.value_info[:]
    return model
