"""Run a whole graph through the reference kernels.

The quantized executor defines what the generated C must output; the float executor
runs the float IR (after import and passes) so importer tests can prove a graph still
means what the source model meant. Both dispatch by op name to functions whose keyword
arguments are exactly the node's attributes, so IR, reference and binding share one
vocabulary.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node
from qcompile.ops import check_attrs
from qcompile.reference.node_cache import NodeCache

_QUANTIZED_MODULES = (
    "qcompile.reference.conv",
    "qcompile.reference.ops",
    "qcompile.reference.fused",
    "qcompile.reference.reduce",
)
#: plug-in package: every module in it may define quantized kernels named after their op
_QUANTIZED_PLUGINS = "qcompile.reference.kernels"
_FLOAT_MODULES = ("qcompile.reference.float_ops",)
#: plug-in package of float-IR kernels (functions named after the float op)
_FLOAT_PLUGINS = "qcompile.reference.float_kernels"


def _plugin_modules(package_name: str) -> tuple[str, ...]:
    package = importlib.import_module(package_name)
    return tuple(f"{package_name}.{info.name}" for info in pkgutil.iter_modules(package.__path__))


def _resolve(op: str, modules: Sequence[str]) -> Callable[..., np.ndarray]:
    if modules is _QUANTIZED_MODULES:
        # the 16x8 module last, after the plug-ins: from int8 inputs only its int8 -> int16
        # ``requantize`` is reached (its other kernels share the int8 ones' names)
        plugins = tuple(m for m in _plugin_modules(_QUANTIZED_PLUGINS) if m not in _S16_MODULES)
        modules = _QUANTIZED_MODULES + plugins + _S16_MODULES
    elif modules is _FLOAT_MODULES:
        modules = _FLOAT_MODULES + _plugin_modules(_FLOAT_PLUGINS)
    for module_name in modules:
        module = importlib.import_module(module_name)
        fn = getattr(module, op, None)
        if fn is not None:
            return fn
    raise QCompileError(f"the reference has no kernel for op {op!r}")


def kernel(op: str, *, quantized: bool) -> Callable[..., np.ndarray]:
    """The reference kernel of ``op``, for code that runs a graph node by node itself
    (bias correction and AdaRound compare float and int8 layers one at a time)."""
    return _resolve(op, _QUANTIZED_MODULES if quantized else _FLOAT_MODULES)


def _bind_inputs(
    graph: Graph, inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray] | np.ndarray
) -> dict[str, np.ndarray]:
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if not isinstance(inputs, Mapping):
        if len(inputs) != len(graph.inputs):
            raise QCompileError(f"graph has {len(graph.inputs)} inputs, got {len(inputs)} arrays")
        inputs = dict(zip(graph.inputs, inputs, strict=True))
    values: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        tensor = graph.tensors[name]
        array = np.asarray(inputs[name])
        if tuple(array.shape) != tuple(tensor.shape):
            raise QCompileError(f"input {name!r} has shape {array.shape}, expected {tensor.shape}")
        values[name] = array.astype(tensor.dtype, copy=False)
    return values


def _run(graph: Graph, inputs, modules: Sequence[str], keep_all: bool, cache: NodeCache | None = None):
    if modules is _QUANTIZED_MODULES:
        _check_schema(graph)
    values = _bind_inputs(graph, inputs)
    keys = {} if cache is None else {name: cache.input_key(values[name]) for name in graph.inputs}
    for t in graph.tensors.values():
        if t.is_constant:
            values[t.name] = t.data
    for node in graph.nodes:
        results = (
            _call(node, modules, values) if cache is None else _call_cached(graph, node, modules, values, keys, cache)
        )
        for name, value in zip(node.outputs, results, strict=True):
            expected = graph.tensors[name].shape
            if tuple(value.shape) != tuple(expected):
                raise QCompileError(
                    f"node {node.name!r} ({node.op}) produced shape {value.shape} for {name!r}, IR says {expected}"
                )
            values[name] = _as_stored(value, graph.tensors[name].dtype)
    if keep_all:
        return values
    return {name: values[name] for name in graph.outputs}


#: the 16x8 kernels (int16 activations), chosen by the dtype of a node's first input
_S16_MODULES = (
    "qcompile.reference.s16",
    "qcompile.reference.kernels.sigmoid_s16",
    "qcompile.reference.kernels.eltwise_s16",
    "qcompile.reference.kernels.matmul_s16",
    "qcompile.reference.kernels.datamove_s16",
)


def _as_stored(value: np.ndarray, dtype: str) -> np.ndarray:
    """A byte-valued result seen as its tensor's byte type: a ``lut`` into a uint8 output
    (TFLite QUANTIZE int8 -> uint8) computes the uint8 bytes in an int8 array."""
    value = np.asarray(value)
    if value.dtype.itemsize == 1 and value.dtype.kind in "iu" and dtype in ("int8", "uint8"):
        return value.view(dtype)
    return value


def _call(node: Node, modules: Sequence[str], values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    args = [values[i] if i else None for i in node.inputs]
    int16 = modules is _QUANTIZED_MODULES and args and getattr(args[0], "dtype", None) == np.int16
    fn = _resolve(node.op, _S16_MODULES) if int16 else _resolve(node.op, modules)
    try:
        result = fn(*args, **node.attrs)
    except QCompileError:
        raise
    except Exception as exc:  # a kernel failure names the node it happened in
        raise QCompileError(f"reference kernel {node.op!r} failed on node {node.name!r}: {exc}") from exc
    return result if isinstance(result, tuple) else (result,)


def _call_cached(
    graph: Graph, node: Node, modules: Sequence[str], values: Mapping[str, np.ndarray], keys: dict, cache: NodeCache
) -> tuple[np.ndarray, ...]:
    """:func:`_call` through ``cache``: the stored result of the same computation, if any."""
    key = cache.node_key(graph, node, keys)
    results = cache.get(key)
    if results is None:
        results = _call(node, modules, values)
        cache.put(key, results)
    for i, name in enumerate(node.outputs):
        keys[name] = key + i.to_bytes(2, "little")
    return results


def run_quantized_node(graph: Graph, node: Node, values: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """One node's reference kernel on the given activation inputs (constants come from
    ``graph``): lets ``qcompile report`` feed a layer other inputs than its predecessors'."""
    bound = {**{t.name: t.data for t in graph.tensors.values() if t.is_constant}, **values}
    return _call(node, _QUANTIZED_MODULES, bound)


def _check_schema(graph: Graph) -> None:
    """Every node's attributes are its op's schema (``qcompile.ops``): the reference kernels
    take exactly those keywords, so a node that drifted fails here, naming itself."""
    for node in graph.nodes:
        try:
            check_attrs(node.op, node.attrs)
        except (ValueError, QCompileError) as exc:
            raise QCompileError(f"node {node.name!r} ({node.op}): {exc}") from exc


def run_quantized(
    graph: Graph, inputs, *, keep_all: bool = False, cache: NodeCache | None = None
) -> dict[str, np.ndarray]:
    """Execute a quantized graph on int8 inputs; returns the outputs by name (or every tensor).
    With a ``cache`` (:mod:`qcompile.reference.node_cache`) every node whose computation an
    earlier run through it did already reuses that result (same bytes, less time)."""
    return _run(graph, inputs, _QUANTIZED_MODULES, keep_all, cache)


def run_float(graph: Graph, inputs, *, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Execute a float IR graph (NHWC, after import) on float inputs in physical layout."""
    return _run(graph, inputs, _FLOAT_MODULES, keep_all)


def run_quantized_samples(
    graph: Graph, quantized: Sequence[np.ndarray], *, progress: bool = False
) -> list[list[np.ndarray]]:
    """``[sample][output]`` flat outputs of :func:`run_quantized` on a batch (one array per
    graph input, first axis = samples), one sample at a time as the C runs them. A graph with
    persistent state (``Graph.state``) runs the samples as one stream: the caller's inputs
    only, the state threaded from each call to the next, starting from its initial value."""
    from qcompile.progress import progress_bar

    expected = []
    n = len(quantized[0])
    state = initial_state(graph)
    with progress_bar(progress, n, "reference") as advance:
        for i in range(n):
            ref = run_quantized(graph, [q[i : i + 1] for q in quantized] + state)
            expected.append([np.asarray(ref[name]).reshape(-1) for name in graph.user_outputs])
            state = next_state(graph, state, ref)
            advance()
    return expected


def initial_state(graph: Graph) -> list[np.ndarray]:
    """The value of every state input (``Graph.state``) before the first call of a stream."""
    return [
        np.asarray(v.init).reshape(graph.tensors[v.input].shape).astype(graph.tensors[v.input].dtype)
        for v in graph.state
    ]


def next_state(graph: Graph, state: list[np.ndarray], outputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The state after one call: each variable's written value (unchanged if never written).
    The C copies bytes into the state buffer, so a value is taken byte for byte."""
    return [
        old if v.output is None else np.asarray(outputs[v.output]).view(old.dtype).reshape(old.shape)
        for v, old in zip(graph.state, state, strict=True)
    ]
