"""``--stateful IN=OUT``: keep a recurrent state input/output pair inside the generated C.

A streaming or recurrent model exported to ONNX usually takes its state as an input and
returns the next state as an output (an LSTM's ``initial_h``/``Y_h``, a ring buffer of past
frames). Asked to keep the pair inside, the compiler moves it into ``Graph.state``: the C
API no longer shows either tensor; the state buffer holds IN's bytes, starts at real zero
(IN's zero point), is overwritten with OUT after every call, and ``<name>_reset()`` restores
the zeros. OUT is first requantized to IN's scale and zero point when they differ (TFLite's
integer requantization, as a 256-entry table), so the bytes carried over mean what IN
expects. Calibration still needs samples of IN (recorded states) like any other input. A
GRU's ``initial_h``/``Y_h`` pair keeps the GRU's int16 state instead (:mod:`qcompile.quant.gru_state`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, StateVar, Tensor
from qcompile.quant.gru_state import keep_gru_state
from qcompile.sample_axis import as_samples


def _find(graph: Graph, names: list[str], name: str, what: str) -> str:
    for candidate in names:
        if name in (candidate, graph.tensors[candidate].source_name):
            return candidate
    shown = ", ".join(graph.tensors[n].source_name or n for n in names)
    raise QCompileError(f"--stateful: the model has no {what} {name!r} (its {what}s: {shown})")


def keep_state(graph: Graph, pairs: Sequence[tuple[str, str]]) -> None:
    """Move each ``(input, output)`` pair (model names) into ``graph.state`` (module doc)."""
    for in_name, out_name in pairs:
        state_in = _find(graph, graph.user_inputs, in_name, "input")
        out = _find(graph, graph.user_outputs, out_name, "output")
        t_in, t_out = graph.tensors[state_in], graph.tensors[out]
        if tuple(t_in.shape) != tuple(t_out.shape):
            raise QCompileError(
                f"--stateful {in_name}={out_name}: the input holds {t_in.shape} and the output {t_out.shape}; "
                "a state pair needs one shape"
            )
        if len(graph.user_outputs) == 1:
            raise QCompileError(f"--stateful {in_name}={out_name}: {out_name!r} is the model's only output")
        if keep_gru_state(graph, state_in, out):  # a GRU's own state: kept in Q15
            continue
        value = _as_input_quant(graph, out, t_in)
        graph.inputs.remove(state_in)
        graph.inputs.append(state_in)
        del graph.outputs[graph.outputs.index(out)]
        graph.outputs.append(value)
        zero = np.full(t_in.size, int(t_in.quant.zero_point), dtype=t_in.dtype)  # int16: an LSTM's cell
        graph.state.append(StateVar(t_in.source_name or state_in, state_in, value, zero))


def _as_input_quant(graph: Graph, out: str, t_in: Tensor) -> str:
    """A tensor holding ``out`` in ``t_in``'s quantization, never a graph input or constant."""
    from qcompile.frontends.tflite_luts import requantize_table

    t_out = graph.tensors[out]
    qi, qo = t_in.quant, t_out.quant
    same = float(qi.scale) == float(qo.scale) and int(qi.zero_point) == int(qo.zero_point)
    if same and not t_out.is_constant and out not in graph.inputs:
        return out
    if not same and (t_in.dtype != "int8" or t_out.dtype != "int8"):
        raise QCompileError(
            f"--stateful: {t_out.source_name or out!r} ({t_out.dtype}) cannot be requantized into the state "
            f"{t_in.source_name or t_in.name!r} ({t_in.dtype}): only int8 states are requantized"
        )
    name = graph.unique_name(f"{t_out.name}_state")
    graph.add_tensor(Tensor(name, t_out.shape, t_in.dtype, quant=qi, source_name=t_out.source_name))
    if same:
        graph.add_node(Node(graph.unique_name(f"copy_{name}"), "copy", [out], [name]))
    else:
        table = requantize_table(float(qo.scale), int(qo.zero_point), float(qi.scale), int(qi.zero_point))
        graph.add_node(Node(graph.unique_name(f"requantize_{name}"), "lut", [out], [name], {"table": table}))
    return name


def run_stream(
    model_path: str | os.PathLike[str],
    inputs: Mapping[str, np.ndarray],
    pairs: Sequence[tuple[str, str]],
    n: int | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """onnxruntime on the float model one step per sample of ``inputs`` (the caller's inputs,
    ``[N, *sample]``), each state output OUT fed back as its input IN (real zeros first), as
    the C runs a ``--stateful`` stream. Returns ``({IN: the state before each step},
    {output: its value at each step})``, all ``[N, *sample]`` (:mod:`qcompile.sample_axis`):
    the states are the recorded samples ``--stateful`` calibration needs for the state inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(os.fspath(model_path), providers=["CPUExecutionProvider"])
    shapes = {i.name: [d if isinstance(d, int) else 1 for d in i.shape] for i in session.get_inputs()}
    missing = [name_in for name_in, _ in pairs if name_in not in shapes]
    if missing:
        raise QCompileError(f"{model_path}: no input named {missing[0]!r} (inputs: {', '.join(shapes)})")
    state = {name_in: np.zeros(shapes[name_in], np.float32) for name_in, _ in pairs}
    names = [o.name for o in session.get_outputs()]
    count = min(len(v) for v in inputs.values()) if n is None else n
    before: dict[str, list[np.ndarray]] = {name_in: [] for name_in in state}
    steps: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for i in range(count):
        feeds = {k: np.asarray(v[i], np.float32).reshape(shapes[k]) for k, v in inputs.items() if k in shapes}
        for name_in, value in state.items():
            before[name_in].append(value)
        feeds.update(state)
        results = dict(zip(names, session.run(names, feeds), strict=True))
        for name in names:
            steps[name].append(as_samples(results[name], np.shape(results[name])))
        state = {name_in: results[name_out] for name_in, name_out in pairs}
    states = {k: np.concatenate([as_samples(s, np.shape(s)) for s in v]) for k, v in before.items()}
    return states, {name: np.concatenate(v, axis=0) for name, v in steps.items()}
