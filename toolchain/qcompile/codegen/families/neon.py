"""Per-layer Arm NEON (Advanced SIMD) int8 kernels for Cortex-A cores (AArch64).

Until its kernels are specialised, every layer of this family runs the portable runtime
kernel: the family exists so that Cortex-A targets can name it.
"""

from __future__ import annotations

from qcompile.codegen.families import KernelFamily


class NeonFamily(KernelFamily):
    name = "neon"
    description = "Cortex-A NEON per-layer kernels (sdot with +dotprod, smull/sadalp otherwise)"


FAMILY = NeonFamily()
