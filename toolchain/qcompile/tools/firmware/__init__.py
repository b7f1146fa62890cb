"""Bare-metal Cortex-M builds of generated models, run under QEMU.

- :func:`run_on_qemu`: build a model folder for a target's QEMU machine, stream int8
  samples through it in one boot, get outputs and exact instruction counts back;
- :func:`build_image` / :func:`size_split`: the test image and its weights / code / arena
  bytes;
- :mod:`qcompile.tools.firmware.bench`: per-layer instruction counts of kernel families.
"""

from qcompile.tools.firmware.build import FirmwareImage, SizeSplit, build_image, require_tool, size_split
from qcompile.tools.firmware.qemu import QemuResult, run_image, run_on_qemu

__all__ = [
    "FirmwareImage",
    "QemuResult",
    "SizeSplit",
    "build_image",
    "require_tool",
    "run_image",
    "run_on_qemu",
    "size_split",
]
