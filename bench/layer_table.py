"""The per-layer instruction-count table the Cortex-M benches print (bench_dsp.py, bench_dsp_s16.py).

One row per layer: index, op, optionally the output shape, MACs, one count per measured
column and the ratio of the last column to the first ("-" where either is missing). Kept in
one place so both benches print the same layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class LayerRow:
    """One printed layer; ``counts[i]`` is None where column i has no such layer (a fused one)."""

    index: str
    op: str
    macs: int
    counts: Sequence[int | None]
    output: str | None = None
    note: str | None = None  # printed on its own line above the row


def print_layer_table(title: str, columns: Sequence[str], rows: Sequence[LayerRow], *, with_output: bool) -> None:
    """Print ``title``, the header and ``rows`` (ratio column: last count / first count)."""
    ratio_name = f"{columns[-1].split()[0]}/{columns[0].split()[0]}"
    widths = [max(11, len(c)) for c in columns]
    print(f"\n{title}")
    head = f"{'#':>3} {'op':18} " + (f"{'output':18} " if with_output else "") + f"{'MACs':>9} "
    print(head + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)) + f" {ratio_name:>8}")
    for row in rows:
        if row.note:
            print(f"    ({row.note})")
        first, last = row.counts[0], row.counts[-1]
        ratio = f"{last / first:8.2f}" if first and last is not None else f"{'-':>8}"
        cells = " ".join(f"{'-' if c is None else c:>{w}}" for c, w in zip(row.counts, widths, strict=True))
        out = f"{row.output or '':18} " if with_output else ""
        print(f"{row.index:>3} {row.op:18} {out}{row.macs:>9} {cells} {ratio}")
