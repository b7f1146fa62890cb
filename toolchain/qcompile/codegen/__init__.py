"""C code generation: a quantized graph becomes a self-contained C99 folder.

``generate(graph, out_dir, name=..., target=...)`` writes ``<c_name>.h`` (public API),
``<c_name>.c`` (straight-line kernel calls, static arena), ``<c_name>_weights.[ch]``
(const data), ``runtime/`` (the runtime files the model uses), ``CMakeLists.txt`` and
``report.json``; see :mod:`qcompile.codegen.generator`.
"""

from qcompile.codegen.generator import compute_scratch, generate, render
from qcompile.codegen.names import model_identifier

__all__ = ["compute_scratch", "generate", "model_identifier", "render"]
