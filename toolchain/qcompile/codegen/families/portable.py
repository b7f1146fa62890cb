"""The portable family: the C99 runtime kernels of ``runtime_c/`` for every layer.

It is every other family's fallback and the host's verification baseline. It alone has
the row-band conv kernels (``qc_conv2d_rows``) and the fused pool + FC head, because both
are portable kernels that a specialised family would replace by its own faster ones.
"""

from __future__ import annotations

from qcompile.codegen.families import KernelFamily


class PortableFamily(KernelFamily):
    name = "portable"
    description = "C99 runtime kernels (any CPU)"
    row_bands = True
    fuse_head = True


FAMILY = PortableFamily()
