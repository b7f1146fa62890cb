"""TFLite builtin converters as plug-ins (see :mod:`qcompile.plugins`).

A module here registers ``fn(imp, op)`` for one or more builtin names with
``@TFLITE_OPS.register("MAXIMUM", "MINIMUM")``; ``imp`` is the importer
(``frontends.tflite_import._Importer``: ``name``, ``q``, ``t``, ``add``, ``act_bounds``).
Raise ValueError (or KeyError, IndexError, TypeError) for an operator that cannot be
compiled; the importer turns it into an error naming the operator.
"""

from __future__ import annotations

from qcompile.plugins import Registry

TFLITE_OPS: Registry = Registry(__name__, "TFLite converter")
