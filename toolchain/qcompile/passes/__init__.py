"""Graph passes: rewrites of the IR, one concept per module, each ``run(graph) -> graph`` (in place).

- :mod:`~qcompile.passes.float_ir`: the float graph after import (folding, fusion of
  activations, pruning); :func:`optimize` runs them;
- :mod:`~qcompile.passes.quantized_ir`: the int8 graph after quantization (fusions that
  cut RAM); ``compiler.optimize_memory`` runs them;
- :mod:`~qcompile.passes.driver`: the one driver both use, which repeats a pipeline until
  a round changes nothing.
"""

from qcompile.passes.driver import run_to_fixed_point
from qcompile.passes.float_ir import optimize

__all__ = ["optimize", "run_to_fixed_point"]
