"""Reuse of reference results across graphs that differ in a few places.

The mixed precision search (``quant/mixed_precision.py``) runs one quantized graph per
candidate set of int16 tensors on the same calibration batch; two candidates differ only
downstream of the tensors whose precision changed. A node's result is a pure function of
its op, its attributes, its constant inputs and its activation inputs, so each result is
stored under a digest of exactly those (the activation inputs by their own digests, a
Merkle chain from the graph inputs' bytes): a later graph finds every node upstream of a
change under the same digest and only the rest is computed. Names play no part (quantize
names the inserted requantize nodes as it likes), and a hit returns the very array a full
run would compute, so a cached run is bit-identical to :func:`run_quantized`.

The kernels are pure (they never write their inputs; the plain executor already shares one
array among all readers of a tensor), so stored arrays are handed out as they are.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from qcompile.ir import Graph, Node

#: default bound on the bytes of stored results (least recently used go first)
DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024


def digest(value: Any) -> bytes:
    """A digest of an attribute or array value: arrays by dtype, shape and bytes, containers
    item by item (mappings sorted by key), anything else by type and ``repr`` (exact for
    ints, floats, strings and None)."""
    h = hashlib.blake2b(digest_size=20)
    _feed(h, value)
    return h.digest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray | np.generic):
        arr = np.ascontiguousarray(value)
        h.update(f"a{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    elif isinstance(value, Mapping):
        h.update(f"m{len(value)}".encode())
        for key in sorted(value, key=str):
            _feed(h, str(key))
            _feed(h, value[key])
    elif isinstance(value, list | tuple):
        h.update(f"{type(value).__name__}{len(value)}".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"{type(value).__name__}:{value!r};".encode())


class NodeCache:
    """Node results by the digest of their computation, least recently used dropped first
    beyond ``budget_bytes``. ``computed`` / ``reused`` count node runs and hits."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._results: OrderedDict[bytes, tuple[np.ndarray, ...]] = OrderedDict()
        self._bytes = 0
        self.computed = 0
        self.reused = 0

    def input_key(self, array: np.ndarray) -> bytes:
        """The digest of a graph input's value."""
        return digest(np.asarray(array))

    def node_key(self, graph: Graph, node: Node, keys: Mapping[str, bytes]) -> bytes:
        """The digest of ``node``'s computation: op, attributes, output dtypes and shapes,
        and each input's digest (``keys`` for activations, the data for constants)."""
        h = hashlib.blake2b(digest_size=20)
        _feed(h, node.op)
        _feed(h, node.attrs)
        _feed(h, [(graph.tensors[o].dtype, tuple(graph.tensors[o].shape)) for o in node.outputs])
        for name in node.inputs:
            if not name:
                h.update(b"none")
            elif name in keys:
                h.update(b"act" + keys[name])
            else:
                h.update(b"const" + digest(graph.tensors[name].data))
        return h.digest()

    def get(self, key: bytes) -> tuple[np.ndarray, ...] | None:
        found = self._results.get(key)
        if found is not None:
            self._results.move_to_end(key)
            self.reused += 1
        return found

    def put(self, key: bytes, results: tuple[np.ndarray, ...]) -> None:
        self.computed += 1
        if key in self._results:
            return
        self._results[key] = results
        self._bytes += sum(np.asarray(r).nbytes for r in results)
        while self._bytes > self.budget_bytes and len(self._results) > 1:
            _, old = self._results.popitem(last=False)
            self._bytes -= sum(np.asarray(r).nbytes for r in old)
