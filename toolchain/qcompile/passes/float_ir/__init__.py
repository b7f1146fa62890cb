"""Float-IR passes, one rewrite per module, each ``run(graph) -> graph`` (in place).

They run on the imported float graph, before calibration, so every rewrite must keep
the float result (the tests run the float reference before and after). The order of
:data:`PIPELINE` lets each pass expose work for the next: constants first, then layout
no-ops, then pad folding, affine (BatchNorm / per-channel Mul) folding and bias folding
into weighted layers, then activation fusion (last, because a fused ``act_range`` blocks
affine and bias folding), hard-swish recognition (it reads the fused clamps), and pruning. :func:`optimize` repeats it to a fixed point
(:mod:`qcompile.passes.driver`), since a fusion can expose another identity reshape.
"""

from __future__ import annotations

from qcompile.ir import Graph
from qcompile.passes.driver import run_to_fixed_point
from qcompile.passes.float_ir import (
    fold_batchnorm,
    fold_bias_add,
    fold_constants,
    fold_pad,
    fuse_activation,
    fuse_hard_swish,
    prune,
    remove_identity,
)

PIPELINE = tuple(
    module.run
    for module in (
        fold_constants,
        remove_identity,
        fold_pad,
        fold_batchnorm,
        fold_bias_add,
        fuse_activation,
        fuse_hard_swish,
        prune,
    )
)


def optimize(graph: Graph) -> Graph:
    """Run the float pipeline to a fixed point and validate the result."""
    graph = run_to_fixed_point(graph, PIPELINE)
    graph.validate()
    return graph
