"""What a verify build's return code says about a tripped canary (host and QEMU alike).

A folder built with ``-DQC_ARENA_GUARD`` surrounds every RAM block it owns with canary
bytes (``report.json`` ``guard_blocks``, in order: the arena, the other memory regions in
use, the state buffer) and its run returns ``<NAME>_GUARD_TRIPPED + k`` (layers + 2 + k)
when block ``k``'s canaries changed. The QEMU harness guards its input and output buffers
the same way and returns the codes after those: ``<NAME>_GUARD_TRIPPED +
<NAME>_GUARD_BLOCKS + j`` for input ``j`` (inputs first, then outputs). The host binding
checks its own I/O canaries (``ModelLibrary.run(..., io_guard=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def guard_blocks(report: Mapping[str, Any]) -> list[str]:
    """The guarded blocks of a folder, in return-code order (older folders: the arena alone)."""
    return list(report.get("guard_blocks") or ["arena"])


def tripped_block(
    code: int, num_layers: int, blocks: Sequence[str], n_inputs: int = 0, n_outputs: int = 0
) -> tuple[str, str] | None:
    """``("model", block)`` or ``("io", "input 0")`` for a canary return code, else None.
    ``n_inputs`` / ``n_outputs``: the harness's guarded I/O buffers (0: none)."""
    k = int(code) - (num_layers + 2)
    if 0 <= k < len(blocks):
        return "model", blocks[k]
    io = [f"input {i}" for i in range(n_inputs)] + [f"output {i}" for i in range(n_outputs)]
    if 0 <= k - len(blocks) < len(io):
        return "io", io[k - len(blocks)]
    return None


def guard_message(c_name: str, where: tuple[str, str], sample: int | None = None) -> str:
    """One sentence naming the block whose canaries changed."""
    kind, block = where
    on = "" if sample is None else f" on sample {sample}"
    if kind == "io":
        return (
            f"I/O guard tripped{on}: {c_name} wrote outside {block}'s buffer (the canary bytes around the "
            "caller's buffer changed)"
        )
    return (
        f"arena guard tripped{on}: a layer of {c_name} wrote outside the {block} (the canary bytes around "
        f"the {block} changed). The generated code or a kernel is wrong: regenerate the folder, and report it "
        "if it persists"
    )


__all__ = ["guard_blocks", "guard_message", "tripped_block"]
