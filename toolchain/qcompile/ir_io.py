"""Save and load a graph as one deterministic file.

``qcompile verify DIR`` must re-run the numpy reference on exactly the graph the C was
generated from, so the compiler stores the quantized IR next to the C sources. The
file is a zip of ``graph.json`` (structure) and ``.npy`` arrays with fixed timestamps,
so compiling twice gives byte-identical output folders.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, QuantParams, StateVar, Tensor

FORMAT_VERSION = 1
_EPOCH = (1980, 1, 1, 0, 0, 0)


class _ArrayStore:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, array: np.ndarray) -> dict[str, str]:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.array(array, order="C")
        return {"__array__": key}


def _encode(value: Any, store: _ArrayStore) -> Any:
    if isinstance(value, np.ndarray):
        return store.put(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, store) for v in value]}
    if isinstance(value, list):
        return [_encode(v, store) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[k, _encode(v, store)] for k, v in value.items()]}
    return value


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _decode(v, arrays) for k, v in value["__dict__"]}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def _quant_to_json(q: QuantParams | None, store: _ArrayStore) -> Any:
    if q is None:
        return None
    return {"scale": store.put(q.scale), "zero_point": store.put(q.zero_point), "axis": q.axis, "dtype": q.dtype}


def save_graph(graph: Graph, path: Path, *, meta: dict[str, Any] | None = None) -> None:
    store = _ArrayStore()
    tensors = []
    for t in graph.tensors.values():
        tensors.append(
            {
                "name": t.name,
                "shape": list(t.shape),
                "dtype": t.dtype,
                "data": store.put(t.data) if t.data is not None else None,
                "quant": _quant_to_json(t.quant, store),
                "source_name": t.source_name,
                "source_perm": list(t.source_perm) if t.source_perm is not None else None,
            }
        )
    nodes = [
        {
            "name": n.name,
            "op": n.op,
            "inputs": n.inputs,
            "outputs": n.outputs,
            "attrs": _encode(n.attrs, store),
            "source_nodes": n.source_nodes,
        }
        for n in graph.nodes
    ]
    doc = {
        "format": FORMAT_VERSION,
        "name": graph.name,
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "tensors": tensors,
        "nodes": nodes,
        "state": [
            {"name": v.name, "input": v.input, "output": v.output, "init": store.put(v.init)} for v in graph.state
        ],
        "meta": meta or {},
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _write(zf, "graph.json", json.dumps(doc, indent=1, sort_keys=True).encode())
        for key, array in store.arrays.items():
            buf = io.BytesIO()
            np.save(buf, array, allow_pickle=False)
            _write(zf, f"{key}.npy", buf.getvalue())


def _write(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def load_graph(path: Path) -> tuple[Graph, dict[str, Any]]:
    try:
        with zipfile.ZipFile(path) as zf:
            doc = json.loads(zf.read("graph.json"))
            arrays = {
                name[: -len(".npy")]: np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
                for name in zf.namelist()
                if name.endswith(".npy")
            }
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise QCompileError(f"{path}: not a qcompile graph file ({exc}); recompile the model") from exc
    if doc.get("format") != FORMAT_VERSION:
        raise QCompileError(f"{path}: graph format {doc.get('format')} is not {FORMAT_VERSION}; recompile the model")
    graph = Graph(doc["name"])
    for t in doc["tensors"]:
        q = t["quant"]
        quant = (
            QuantParams(_decode(q["scale"], arrays), _decode(q["zero_point"], arrays), axis=q["axis"], dtype=q["dtype"])
            if q
            else None
        )
        graph.add_tensor(
            Tensor(
                t["name"],
                tuple(t["shape"]),
                t["dtype"],
                _decode(t["data"], arrays) if t["data"] is not None else None,
                quant,
                t["source_name"],
                tuple(t["source_perm"]) if t["source_perm"] is not None else None,
            )
        )
    for n in doc["nodes"]:
        graph.add_node(
            Node(n["name"], n["op"], n["inputs"], n["outputs"], _decode(n["attrs"], arrays), n["source_nodes"])
        )
    graph.inputs = doc["inputs"]
    graph.outputs = doc["outputs"]
    graph.state = [
        StateVar(v["name"], v["input"], v["output"], _decode(v["init"], arrays)) for v in doc.get("state", [])
    ]
    return graph, doc["meta"]
