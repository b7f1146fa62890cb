"""Per-layer Arm Helium (MVE, M-profile Vector Extension) int8 kernels for Cortex-M55/M85.

Step one of issue 15: the family exists and the Helium targets select it; until its own
kernels land it generates the DSP family's kernels (a Helium core has the DSP extension).
"""

from __future__ import annotations

from qcompile.codegen.families.dsp import DspFamily


class MveFamily(DspFamily):
    """Helium per-layer kernels; ``qcompile bench`` shows them beside the DSP family's."""

    name = "mve"
    description = "Cortex-M Helium (MVE) per-layer kernels"
    bench_baselines = ("dsp",)


FAMILY = MveFamily()
