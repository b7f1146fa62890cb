"""TFLite resource variables as persistent state: CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE.

Streaming models (a convolution over a ring buffer of past frames, run once per new frame)
keep their buffers in resource variables. The TFLite converter writes them as:

- a CALL_ONCE operator at the start of subgraph 0 naming an initialisation subgraph, whose
  VAR_HANDLE + ASSIGN_VARIABLE pairs set each variable to a constant on the first invoke;
- in subgraph 0, VAR_HANDLE (a resource handle per variable, keyed by container and shared
  name), READ_VARIABLE (the value at this point of the call) and ASSIGN_VARIABLE (a new
  value, visible to later reads and to the next call).

This module turns that into dataflow: the first read of a variable is a state input of the
graph, a read after an assignment is the assigned tensor itself, and the value assigned last
is a state output. ``Graph.state`` records the pairs with the initial values; the generated C
keeps them in its state buffer (docs/ARCHITECTURE.md, "Persistent state"). Initialisation
subgraphs may only assign constants (what the converter writes); any other subgraph is
control flow, which is refused.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from qcompile.frontends.tflite_reader import TfliteModel, TfliteOperator
from qcompile.ir import Graph, Node, StateVar, Tensor


class _Importer(Protocol):
    """What the variables need of the TFLite importer (declared here: the importer imports
    this module)."""

    graph: Graph
    names: dict[int, str]

    def name(self, index: int) -> str: ...


STATE_OPS = ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")
_INT8 = 9
_RESOURCE = 13


def variable_key(op: TfliteOperator) -> str:
    """A variable's identity, as TFLM keys it: container and shared name."""
    return f"{op.options.get('container', '')}/{op.options.get('shared_name', '')}"


def initial_values(model: TfliteModel) -> tuple[dict[str, np.ndarray], list[str]]:
    """(initial value per variable from the CALL_ONCE subgraphs, problems found)."""
    problems: list[str] = []
    init_graphs: set[int] = set()
    for op in model.operators:
        if op.op == "CALL_ONCE":
            index = int(op.options.get("init_subgraph_index", 0))
            if not 0 < index < model.num_subgraphs:
                problems.append(f"operator {op.index} (CALL_ONCE): initialisation subgraph {index} does not exist")
            init_graphs.add(index)
    values: dict[str, np.ndarray] = {}
    for sg in model.subgraphs[1:]:
        if sg.index not in init_graphs:
            problems.append(
                f"subgraph {sg.index} is not a CALL_ONCE initialisation (control flow such as WHILE or IF is not "
                "supported)"
            )
            continue
        handles: dict[int, str] = {}
        for op in sg.operators:
            where = f"subgraph {sg.index} operator {op.index} ({op.op})"
            if op.op == "VAR_HANDLE":
                handles[op.outputs[0]] = variable_key(op)
            elif op.op == "ASSIGN_VARIABLE" and len(op.inputs) == 2:
                value = sg.tensors[op.inputs[1]]
                if op.inputs[0] not in handles or value.data is None or value.type != _INT8:
                    problems.append(f"{where}: only constant int8 initial values are supported")
                else:
                    values[handles[op.inputs[0]]] = np.asarray(value.data, dtype=np.int8)
            else:
                problems.append(f"{where}: an initialisation subgraph may only assign constants to variables")
    return values, problems


def check_op(model: TfliteModel, op: TfliteOperator) -> list[str]:
    """Problems of one state operator of subgraph 0."""
    where = f"operator {op.index} ({op.op})"
    if op.op == "READ_VARIABLE":
        if len(op.inputs) != 1 or len(op.outputs) != 1:
            return [f"{where}: expected one handle and one output"]
        out = model.tensors[op.outputs[0]]
        if out.type != _INT8 or out.quant is None or out.quant.scale.size != 1:
            return [f"{where}: variable {out.name!r} is {out.type_name}; only per-tensor int8 variables are supported"]
    if op.op == "ASSIGN_VARIABLE":
        if len(op.inputs) != 2 or op.inputs[1] < 0:
            return [f"{where}: expected a handle and a value"]
        value = model.tensors[op.inputs[1]]
        if value.type != _INT8:
            return [f"{where}: value {value.name!r} is {value.type_name}; only int8 variables are supported"]
    if op.op == "VAR_HANDLE" and (len(op.outputs) != 1 or model.tensors[op.outputs[0]].type != _RESOURCE):
        return [f"{where}: expected one resource output"]
    return []


class Variables:
    """Subgraph 0's variables while the importer walks its operators in order."""

    def __init__(self, imp: _Importer, inits: dict[str, np.ndarray]) -> None:
        self.imp = imp
        self.inits = inits
        self.handles: dict[int, str] = {}
        self.current: dict[str, str] = {}  # variable -> IR tensor holding its value now
        self.inputs: dict[str, str] = {}  # variable -> its state input (first read)
        self.order: list[str] = []

    def convert(self, op: TfliteOperator) -> None:
        if op.op == "CALL_ONCE":
            return
        if op.op == "VAR_HANDLE":
            self.handles[op.outputs[0]] = variable_key(op)
            return
        key = self.handles.get(op.inputs[0])
        if key is None:
            raise ValueError("the resource handle does not come from a VAR_HANDLE of this subgraph")
        if key not in self.order:
            self.order.append(key)
        if op.op == "READ_VARIABLE":
            if key in self.current:
                self.imp.names[op.outputs[0]] = self.current[key]
            else:
                self.current[key] = self.inputs[key] = self.imp.name(op.outputs[0])
            return
        value = self.imp.name(op.inputs[1])
        known = self.current.get(key)
        if known is not None and self.imp.graph.tensors[known].size != self.imp.graph.tensors[value].size:
            raise ValueError(
                f"assigns {self.imp.graph.tensors[value].shape} to a variable of shape "
                f"{self.imp.graph.tensors[known].shape}"
            )
        self.current[key] = value

    def finish(self) -> None:
        """Append the state inputs and outputs (after the caller's) and record ``Graph.state``."""
        graph = self.imp.graph
        for key in self.order:
            state_in = self.inputs.get(key)
            if state_in is None:
                continue  # written but never read: nothing carries over
            t = graph.tensors[state_in]
            init = self.inits.get(key, np.zeros(t.shape, dtype=np.int8))
            if init.size != t.size:
                raise ValueError(f"variable {key!r} is initialised with {init.size} values but holds {t.size}")
            value = self.current[key]
            output = None if value == state_in else self._fresh(value)
            graph.inputs.append(state_in)
            if output is not None:
                graph.outputs.append(output)
            graph.state.append(StateVar(key.strip("/") or state_in, state_in, output, init.reshape(-1)))

    def _fresh(self, value: str) -> str:
        """``value``, or a copy of it when it is a graph input or a constant (the state buffer is
        written after the last layer, so it must not be the buffer it is copied from)."""
        graph = self.imp.graph
        t = graph.tensors[value]
        if not t.is_constant and value not in graph.inputs:
            return value
        name = graph.unique_name(f"{t.name}_next")
        graph.add_tensor(Tensor(name, t.shape, "int8", quant=t.quant))
        graph.add_node(Node(graph.unique_name(f"copy_{name}"), "copy", [value], [name]))
        return name
