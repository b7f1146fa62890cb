"""ONNX op converters as plug-ins (see :mod:`qcompile.plugins`).

A module here registers ``fn(conv, node, ins, attrs)`` for one or more ONNX op types with
``@ONNX_OPS.register("Max", "Min", problem=check)``. ``conv`` is the importer's
``_Converter`` (its ``act``, ``get``, ``emit``, ``tmp_act``, ``new_act``, ``constant``,
``fail`` helpers); ``ins`` is the node's input names padded with ""; ``attrs`` its
attributes. The optional ``problem(node, ins, attrs, const) -> str | None`` says before
conversion why a node cannot be compiled (``const``: names of constant inputs), so that
``check_supported`` lists every problem of a model at once.
"""

from __future__ import annotations

from qcompile.plugins import Registry

ONNX_OPS: Registry = Registry(__name__, "ONNX converter")
