"""Reading a folder written by ``qcompile MODEL -o DIR``: its graph, report, origin and host build.

``model.qir`` carries the quantized graph the C implements and, in its metadata, what
the folder was compiled from (C name, target, source model with its sha256, calibration
file). Everything that runs a compiled folder (verify, compare, bench, the tests) opens
it here instead of reading those files itself.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.outdir.replace import build_area

GRAPH_FILE = "model.qir"
#: The quantized graph before the memory passes (the same for every kernel family), so that
#: ``qcompile bench`` can run each family's memory passes as a real compile would.
QUANTIZED_GRAPH_FILE = "quantized.qir"
REPORT_FILE = "report.json"


def read_report(folder: Path) -> dict[str, Any]:
    """``report.json`` of a generated folder (also one ``codegen.generate`` wrote directly)."""
    path = Path(folder) / REPORT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QCompileError(
            f"{folder}: cannot read {REPORT_FILE} ({exc}); is this a folder written by `qcompile`?"
        ) from exc


@dataclass
class ModelFolder:
    """An output folder, opened: the graph and metadata from ``model.qir``."""

    path: Path
    graph: Graph
    meta: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> ModelFolder:
        from qcompile.ir_io import load_graph

        path = Path(path)
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "does not exist"
            raise QCompileError(f"{path} {what}: give the folder `qcompile MODEL -o DIR` wrote")
        qir = path / GRAPH_FILE
        if not qir.is_file():
            raise QCompileError(
                f"{path}: no {GRAPH_FILE} here; is this a folder written by `qcompile`? (compile one with "
                f"`qcompile MODEL -o {path}`)"
            )
        graph, meta = load_graph(qir)
        return cls(path=path, graph=graph, meta=meta)

    @property
    def c_name(self) -> str:
        return str(self.meta["c_name"])

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.c_name))

    @property
    def target_name(self) -> str:
        return str(self.meta.get("target", "host"))

    @property
    def source_model(self) -> Path | None:
        source = self.meta.get("source_model")
        return Path(source) if source else None

    @property
    def source_sha256(self) -> str | None:
        return self.meta.get("source_sha256")

    @property
    def calibration_data(self) -> Path | None:
        calib = self.meta.get("calibration_data")
        return Path(calib) if calib else None

    @property
    def is_tflite_source(self) -> bool:
        """Compiled from an (already quantized) ``.tflite``: no float twin, no calibration file."""
        return self.source_model is not None and self.source_model.suffix.lower() == ".tflite"

    @property
    def is_qdq_source(self) -> bool:
        """Compiled from a pre-quantized ONNX model (QDQ or operator format): verify compares
        against that model run with its exact QDQ semantics (onnxruntime optimisations off)."""
        return self.meta.get("source_format") == "onnx-qdq"

    def report(self) -> dict[str, Any]:
        return read_report(self.path)

    def build_dir(self, *parts: str, inputs: Sequence[Path | None] = (), force: bool = False) -> Path:
        """A folder under ``DIR/build`` for cross builds (see :func:`build_area`)."""
        return build_area(self.path, *parts, inputs=inputs, force=force)

    @contextmanager
    def host_library(self, **build_options: Any) -> Iterator[Any]:
        """The folder's C built for this machine (in a temporary folder) and loaded."""
        from qcompile.host._runtime import ModelLibrary
        from qcompile.host.build import build_host_library

        sizes_in = [self.graph.tensors[name].size for name in self.graph.user_inputs]
        sizes_out = [self.graph.tensors[name].size for name in self.graph.user_outputs]
        with tempfile.TemporaryDirectory(prefix="qcompile-hostbuild-") as build_dir:
            lib = build_host_library(self.path, name=self.c_name, build_dir=Path(build_dir), **build_options)
            dtypes_in = [self.graph.tensors[name].dtype for name in self.graph.user_inputs]
            dtypes_out = [self.graph.tensors[name].dtype for name in self.graph.user_outputs]
            yield ModelLibrary(
                str(lib), self.c_name, sizes_in, sizes_out, 0, input_dtypes=dtypes_in, output_dtypes=dtypes_out
            )

    def run_host(self, quantized: Sequence[np.ndarray]) -> list[Any]:
        """``[output][sample]`` of the host build on int8 inputs (one array per graph input)."""
        n = len(quantized[0])
        with self.host_library() as library:
            return library.run([np.asarray(q).reshape(n, -1) for q in quantized])
