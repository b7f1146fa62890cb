"""Graph IR shared by every pipeline stage.

One IR serves both the float graph (after import and passes) and the quantized graph
(after quantization). Keeping a single structure means a pass, the planner and the
code generator never need to know which importer produced a graph, and a future
importer (TFLite, QDQ ONNX) only has to fill the same fields.

Layout: every 4-D activation tensor is stored NHWC ("physical" layout). Importers that
read NCHW models record, per tensor, how the source model's tensor maps to the
physical one (``Tensor.source_perm``) so calibration and float comparison can line the
two up.

The op vocabulary and the exact meaning of each attribute are specified in
``docs/QUANTIZATION.md`` (quantized form) and ``docs/ARCHITECTURE.md`` (float form).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcompile.errors import QCompileError


@dataclass
class QuantParams:
    """Affine quantization of one tensor: real = scale * (q - zero_point).

    ``axis`` is None for per-tensor parameters (scale and zero_point of shape ``()``) and
    the channel axis for per-channel ones. ``dtype`` names the storage type so int16
    activations and int4 weights fit without a new class.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None
    dtype: str = "int8"

    def __post_init__(self) -> None:
        self.scale = np.asarray(self.scale, dtype=np.float64)
        self.zero_point = np.asarray(self.zero_point, dtype=np.int64)
        if self.scale.shape != self.zero_point.shape:
            raise ValueError("scale and zero_point must have the same shape")
        if self.axis is None and self.scale.ndim != 0:
            raise ValueError("per-tensor parameters must be scalars")

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    @property
    def qmin(self) -> int:
        return int(np.iinfo(self.dtype).min)

    @property
    def qmax(self) -> int:
        return int(np.iinfo(self.dtype).max)

    def scalar_scale(self) -> float:
        if self.per_channel:
            raise ValueError("per-channel parameters have no single scale")
        return float(self.scale)

    def scalar_zero_point(self) -> int:
        if self.per_channel:
            raise ValueError("per-channel parameters have no single zero point")
        return int(self.zero_point)

    def quantize(self, real: np.ndarray) -> np.ndarray:
        """Round half away from zero (TFLite's ``TfLiteRound``) and saturate."""
        real = np.asarray(real, dtype=np.float64)
        scale, zp = self._broadcast(real.ndim)
        q = _round_half_away(real / scale) + zp
        return np.clip(q, self.qmin, self.qmax).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        scale, zp = self._broadcast(q.ndim)
        return (q.astype(np.float64) - zp) * scale

    def _broadcast(self, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.per_channel:
            return self.scale, self.zero_point
        shape = [1] * ndim
        shape[self.axis] = -1
        return self.scale.reshape(shape), self.zero_point.reshape(shape)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """TFLite's rounding of reals to integers (``std::round``): ties go away from zero."""
    return _round_half_away(np.asarray(x, dtype=np.float64))


@dataclass
class Tensor:
    """A value in the graph: an activation (``data is None``) or a constant.

    ``shape`` is the physical shape (NHWC for 4-D activations). ``source_name`` and
    ``source_perm`` tie the tensor to the source model: the source tensor transposed by
    ``source_perm`` holds the same real values (used by calibration and by the float
    comparison in ``verify``).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    data: np.ndarray | None = None
    quant: QuantParams | None = None
    source_name: str | None = None
    source_perm: tuple[int, ...] | None = None

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def source_shape(self) -> tuple[int, ...]:
        """The shape in the source model's layout (``shape`` with ``source_perm`` undone)."""
        if self.source_perm is None:
            return tuple(self.shape)
        return tuple(int(self.shape[i]) for i in np.argsort(self.source_perm))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    """One operation. ``attrs`` hold plain Python values and numpy arrays only, so a graph
    can be compared, copied and rendered deterministically."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    source_nodes: list[str] = field(default_factory=list)


@dataclass
class StateVar:
    """A persistent buffer carried from one call to the next (a TFLite resource variable, or
    an ONNX state input/output pair kept inside with ``--stateful``).

    ``input`` is the graph input that holds the value at the start of a call, ``output`` the
    graph output whose value it holds after the call (None: never written), ``init`` the
    value before the first call and after ``<name>_reset()``. State inputs and outputs come
    after the caller's in ``Graph.inputs`` / ``Graph.outputs``; the generated C keeps them in
    its state buffer, outside the arena, and the C API shows only the caller's tensors.
    """

    name: str
    input: str
    output: str | None
    init: np.ndarray


class Graph:
    """Tensors by name, nodes in schedule order (always a valid topological order)."""

    def __init__(self, name: str = "model") -> None:
        self.name = name
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.state: list[StateVar] = []
        self._counter = itertools.count()

    # -- construction -------------------------------------------------------------
    def add_tensor(self, tensor: Tensor) -> Tensor:
        if tensor.name in self.tensors:
            raise ValueError(f"duplicate tensor name {tensor.name!r}")
        self.tensors[tensor.name] = tensor
        return tensor

    def add_constant(self, name: str, data: np.ndarray, *, source_name: str | None = None) -> Tensor:
        data = np.ascontiguousarray(data)
        return self.add_tensor(
            Tensor(self.unique_name(name), tuple(data.shape), str(data.dtype), data, source_name=source_name)
        )

    def add_node(self, node: Node, index: int | None = None) -> Node:
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(index, node)
        return node

    def unique_name(self, base: str) -> str:
        name = base
        while name in self.tensors or any(n.name == name for n in self.nodes):
            name = f"{base}_{next(self._counter)}"
        return name

    # -- queries ------------------------------------------------------------------
    @property
    def user_inputs(self) -> list[str]:
        """The inputs the caller passes (``inputs`` without the state inputs)."""
        state = {s.input for s in self.state}
        return [name for name in self.inputs if name not in state]

    @property
    def user_outputs(self) -> list[str]:
        """The outputs the caller receives (``outputs`` without the trailing state outputs)."""
        return self.outputs[: len(self.outputs) - sum(1 for s in self.state if s.output is not None)]

    @property
    def state_bytes(self) -> int:
        offsets = self.state_offsets()
        return offsets[-1] + self.tensors[self.state[-1].input].nbytes if self.state else 0

    def state_offsets(self) -> list[int]:
        """Each state variable's byte offset in the state buffer: in order, each aligned to its
        element size (an int16 cell state after an odd number of int8 bytes)."""
        offsets, offset = [], 0
        for s in self.state:
            t = self.tensors[s.input]
            item = max(1, t.nbytes // max(1, t.size))
            offset = -(-offset // item) * item
            offsets.append(offset)
            offset += t.nbytes
        return offsets

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def producer(self, tensor_name: str) -> Node | None:
        for node in self.nodes:
            if tensor_name in node.outputs:
                return node
        return None

    def consumers(self, tensor_name: str) -> list[Node]:
        return [n for n in self.nodes if tensor_name in n.inputs]

    def is_graph_io(self, tensor_name: str) -> bool:
        return tensor_name in self.inputs or tensor_name in self.outputs

    def activations(self) -> Iterator[Tensor]:
        for t in self.tensors.values():
            if not t.is_constant:
                yield t

    def replace_uses(self, old: str, new: str) -> None:
        """Point every consumer (and the graph outputs) of ``old`` at ``new``."""
        for node in self.nodes:
            node.inputs = [new if i == old else i for i in node.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]
        for var in self.state:
            if var.output == old:
                var.output = new

    def remove_node(self, node: Node) -> None:
        self.nodes.remove(node)

    def prune(self) -> None:
        """Drop nodes whose outputs nobody uses and tensors nobody references."""
        changed = True
        while changed:
            changed = False
            used = set(self.outputs)
            for node in self.nodes:
                used.update(node.inputs)
            for node in list(self.nodes):
                if not any(o in used for o in node.outputs):
                    self.nodes.remove(node)
                    changed = True
        referenced = set(self.inputs) | set(self.outputs)
        for node in self.nodes:
            referenced.update(node.inputs)
            referenced.update(node.outputs)
        for name in list(self.tensors):
            if name not in referenced:
                del self.tensors[name]

    def validate(self) -> None:
        """Check the schedule is topological and every name resolves."""
        available = set(self.inputs) | {t.name for t in self.tensors.values() if t.is_constant}
        for node in self.nodes:
            for i in node.inputs:
                if i and i not in available:
                    raise QCompileError(f"node {node.name!r} ({node.op}) reads {i!r} before it is produced")
                if i and i not in self.tensors:
                    raise QCompileError(f"node {node.name!r} reads unknown tensor {i!r}")
            for o in node.outputs:
                if o not in self.tensors:
                    raise QCompileError(f"node {node.name!r} writes unknown tensor {o!r}")
                available.add(o)
        for o in self.outputs:
            if o not in available:
                raise QCompileError(f"graph output {o!r} is never produced")

    def copy(self) -> Graph:
        import copy

        return copy.deepcopy(self)

    def summary(self) -> str:
        lines = [f"graph {self.name}: inputs {self.inputs} outputs {self.outputs}"]
        for n in self.nodes:
            shapes = [self.tensors[o].shape for o in n.outputs]
            lines.append(f"  {n.op:<20} {n.name}  {n.inputs} -> {n.outputs} {shapes}")
        return "\n".join(lines)
