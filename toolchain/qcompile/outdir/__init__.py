"""The output folder contract, in one place.

A folder written by ``qcompile MODEL -o DIR`` holds the generated C, ``model.qir`` (the
quantized graph the C implements, with what it was compiled from), ``report.json`` and a
marker file. The marker is how qcompile tells its own folders from a user's: it replaces
only a folder that carries it (``--force`` aside), and never one that holds an input of
the run, the current directory or a parent of it. ``verify``, ``compare`` and ``bench``
read the folder, its recorded data and its host library through :class:`ModelFolder`.
"""

from qcompile.outdir.folder import GRAPH_FILE, QUANTIZED_GRAPH_FILE, REPORT_FILE, ModelFolder, read_report
from qcompile.outdir.marker import MARKER, file_sha256, read_marker, write_marker
from qcompile.outdir.replace import build_area, check_destination, replace_folder
from qcompile.outdir.samples import (
    Samples,
    int8_inputs,
    int8_samples,
    load_float_inputs,
    load_samples,
    to_physical,
)

__all__ = [
    "GRAPH_FILE",
    "MARKER",
    "QUANTIZED_GRAPH_FILE",
    "REPORT_FILE",
    "ModelFolder",
    "Samples",
    "build_area",
    "check_destination",
    "file_sha256",
    "int8_inputs",
    "int8_samples",
    "load_float_inputs",
    "load_samples",
    "read_marker",
    "read_report",
    "replace_folder",
    "to_physical",
    "write_marker",
]
