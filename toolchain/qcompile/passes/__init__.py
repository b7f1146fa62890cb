"""Float-IR graph passes, one concept per module, each ``run(graph) -> graph`` (in place).

:func:`optimize` runs them in an order where each pass exposes work for the next:
constants first, then layout no-ops, then pad folding, affine (BatchNorm / per-channel
Mul) folding and bias folding into weighted layers, then activation fusion (which must
come last because a fused ``act_range`` blocks affine and bias folding), and pruning.
The sequence runs twice because a fusion can expose another identity reshape; every pass
is idempotent.
"""

from __future__ import annotations

from qcompile.ir import Graph
from qcompile.passes import (
    fold_batchnorm,
    fold_bias_add,
    fold_constants,
    fold_pad,
    fuse_activation,
    prune,
    remove_identity,
)

PIPELINE = (fold_constants, remove_identity, fold_pad, fold_batchnorm, fold_bias_add, fuse_activation, prune)


def optimize(graph: Graph) -> Graph:
    """Run every pass (twice, to a fixed point in practice) and validate the result."""
    for _ in range(2):
        for module in PIPELINE:
            graph = module.run(graph)
    graph.validate()
    return graph
