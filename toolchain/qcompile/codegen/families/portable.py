"""The portable family: the C99 runtime kernels of ``runtime_c/`` for every layer.

It is every other family's fallback and the host's verification baseline. It alone has
the row-band conv kernels (``qc_conv2d_rows``) and the fused pool + FC head, because both
are portable kernels that a specialised family would replace by its own faster ones.
"""

from __future__ import annotations

from qcompile.codegen.families import KernelFamily
from qcompile.ir import Graph, Node
from qcompile.memory.overlap import PIXELS, window_of


def portable_overlap_contract(graph: Graph, node: Node) -> str | None:
    """The access order of the portable kernel that runs ``node``, when its output may overlap
    its input (:mod:`qcompile.memory.overlap`): ``qc_depthwise_conv2d_s8`` writes a pixel after
    all its taps (``PIXELS``); ``qc_conv2d_s8`` im2cols a block of pixels before writing it,
    for one group (groups > 1 write group 0 before reading group 1's channels);
    ``qc_conv2d_add_s8`` computes a whole output row before it writes it."""
    if window_of(graph, node) is None:
        return None
    if node.op != "depthwise_conv2d" and int(node.attrs.get("groups", 1)) != 1:
        return None
    return PIXELS


def portable_stream_ops(graph: Graph) -> set[str]:
    """The nodes the portable band kernels can stream (see :meth:`PortableFamily.stream_ops`)."""
    result = set()
    for node in graph.nodes:
        if node.op not in ("conv2d", "conv2d_add") or window_of(graph, node) is None:
            continue
        if graph.tensors[node.inputs[0]].dtype == "int8":
            result.add(node.name)
    return result


class PortableFamily(KernelFamily):
    name = "portable"
    description = "C99 runtime kernels (any CPU)"
    row_bands = True
    fuse_head = True

    def overlap_contracts(self, graph: Graph) -> dict[str, str]:
        return {n.name: c for n in graph.nodes if (c := portable_overlap_contract(graph, n)) is not None}

    def stream_ops(self, graph: Graph) -> set[str]:
        """int8 ``conv2d`` / ``conv2d_add`` with batch 1: ``qc_conv2d_band_s8`` and
        ``qc_conv2d_add_band_s8`` compute a band of output rows from a window of input rows
        (:mod:`qcompile.codegen.streaming`)."""
        return portable_stream_ops(graph)


FAMILY = PortableFamily()
