"""The ``qcompile report`` page: one HTML file, inline SVG, no script and no fetch.

Self-contained so it can be attached to a ticket or opened from a CI artifact offline.
The chart keeps graph order (a reader sees where the error builds up); the table and
the histograms go worst first (where to look first).
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from qcompile.tools.report import LayerError, Report

SQNR_CAP = 60.0  # dB: beyond this an int8 layer is as good as int8 gets; bars are clipped
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px 32px;color:#1f2328;
max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;
padding-bottom:4px}.meta{color:#57606a;font-size:13px}.legend span{display:inline-block;margin-right:16px;
font-size:13px}.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eaeef2;
text-align:right}td:nth-child(2),td:nth-child(3),th:nth-child(2),th:nth-child(3){text-align:left}
.bad{color:#cf222e;font-weight:600}.hists{display:flex;flex-wrap:wrap;gap:16px}
td.name{max-width:420px;word-break:break-all;text-align:left}.hist{border:1px solid #d0d7de;border-radius:6px;padding:8px}.note{font-size:13px;color:#57606a;max-width:900px}
"""
_BLUE, _ORANGE, _GREY = "#0969da", "#fb8500", "#8c959f"


def _db(value: float | None) -> str:
    if value is None:
        return "-"
    return "exact" if math.isinf(value) and value > 0 else f"{value:.1f}"


def _bar(value: float | None) -> float:
    if value is None or math.isnan(value):
        return 0.0
    return float(min(max(value, 0.0), SQNR_CAP))


def _short(name: str, keep: int = 30) -> str:
    """Converted models name layers by every fused op (hundreds of characters): the chart
    shows the start and the unique suffix; the table and the tooltip show it all."""
    return name if len(name) <= keep else f"{name[: keep - 10]}\u2026{name[-9:]}"


def _sqnr_chart(layers: list[LayerError]) -> str:
    """Horizontal bars per layer in graph order: delivered SQNR and own SQNR."""
    label_w, plot_w, row_h, top = 390, 540, 26, 28
    height = top + row_h * len(layers) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 60}" height="{height}">']
    for db in range(0, int(SQNR_CAP) + 1, 10):
        x = label_w + plot_w * db / SQNR_CAP
        parts.append(f'<line x1="{x}" y1="{top - 6}" x2="{x}" y2="{height - 10}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{x}" y="{top - 10}" font-size="11" text-anchor="middle" fill="#57606a">{db} dB</text>')
    for row, e in enumerate(layers):
        y = top + row * row_h
        name = escape(f"{e.index}: {_short(e.node)} ({e.op})")
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"<title>{escape(e.node)}</title>{name}</text>"
        )
        for k, (value, colour) in enumerate(((e.sqnr_db, _BLUE), (e.own_sqnr_db, _ORANGE))):
            w = plot_w * _bar(value) / SQNR_CAP
            parts.append(f'<rect x="{label_w}" y="{y + 3 + 10 * k}" width="{w:.1f}" height="9" fill="{colour}"/>')
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + 11 + 10 * k}" font-size="10" fill="#57606a">'
                f"{_db(value)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(e: LayerError) -> str:
    """Float values (grey bars) and dequantized int8 values (blue outline) on the same bins."""
    f, q = e.histogram_values()
    lo, hi = float(min(f.min(), q.min())), float(max(f.max(), q.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 61)
    fc, _ = np.histogram(f, edges)
    qc, _ = np.histogram(q, edges)
    w, h, pad = 460, 170, 40
    peak = max(int(fc.max()), int(qc.max()), 1)
    bw = w / len(fc)

    def y(c: int) -> float:
        return pad + h * (1 - math.sqrt(c / peak))  # sqrt scale: tails stay visible

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 20}" height="{h + pad + 34}">']
    for i, c in enumerate(fc):
        parts.append(
            f'<rect x="{10 + i * bw:.1f}" y="{y(int(c)):.1f}" width="{bw:.1f}" '
            f'height="{pad + h - y(int(c)):.1f}" fill="{_GREY}" opacity="0.55"/>'
        )
    steps = " ".join(
        f"{10 + i * bw:.1f},{y(int(c)):.1f} {10 + (i + 1) * bw:.1f},{y(int(c)):.1f}" for i, c in enumerate(qc)
    )
    parts.append(f'<polyline points="{steps}" fill="none" stroke="{_BLUE}" stroke-width="1.5"/>')
    parts.append(f'<text x="10" y="{pad + h + 16}" font-size="11" fill="#57606a">{lo:.3g}</text>')
    parts.append(
        f'<text x="{w + 10}" y="{pad + h + 16}" font-size="11" text-anchor="end" fill="#57606a">{hi:.3g}</text>'
    )
    title = escape(f"{e.index}: {_short(e.node, 48)} ({e.op})")
    numbers = f"SQNR {_db(e.sqnr_db)} dB, own {_db(e.own_sqnr_db)} dB"
    parts.append(f'<text x="10" y="14" font-size="12" font-weight="600"><title>{escape(e.node)}</title>{title}</text>')
    parts.append(f'<text x="10" y="30" font-size="12" fill="#57606a">{numbers}</text></svg>')
    return "".join(parts)


def _table(report: Report) -> str:
    rows = [
        "<table><tr><th>#</th><th>layer</th><th>op</th><th>SQNR dB</th><th>own SQNR dB</th>"
        "<th>inherited</th><th>float range</th></tr>"
    ]
    for e in report.worst_first():
        own = e.own_sqnr_db
        inherited = "-" if own is None or math.isinf(own) or math.isinf(e.sqnr_db) else f"{own - e.sqnr_db:.1f}"
        cls = ' class="bad"' if e.sqnr_db < 20 else ""
        rows.append(
            f"<tr><td>{e.index}</td><td class='name'>{escape(e.node)}</td><td>{escape(e.op)}</td><td{cls}>{_db(e.sqnr_db)}</td>"
            f"<td>{_db(own)}</td><td>{inherited}</td><td>[{e.lo:.3g}, {e.hi:.3g}]</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def render(report: Report, worst: int = 4) -> str:
    """The whole page."""
    skipped = ""
    if report.skipped:
        names = ", ".join(escape(s) for s in report.skipped)
        skipped = f'<p class="note">Layers with no float tensor in the source model (not compared): {names}.</p>'
    kept = max((len(e.float_values) for e in report.layers), default=0)
    hists = "".join(f'<div class="hist">{_histogram(e)}</div>' for e in report.worst_first()[:worst])
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>qcompile report: '
        f"{escape(report.model)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Quantization report: {escape(report.model)}</h1>"
        f'<p class="meta">{escape(str(report.folder))} &middot; data: {escape(report.data_source)}</p>'
        '<p class="note">SQNR: the int8 layer output against the float model\'s tensor (higher is better; '
        "each 6 dB is one bit). Own SQNR: the same int8 layer fed the float model's inputs, i.e. the error "
        "this layer adds by itself. Inherited: own minus SQNR, the part that comes from earlier layers.</p>"
        f'<h2>Per-layer SQNR (graph order)</h2><p class="legend"><span><i class="sw" style="background:{_BLUE}">'
        f'</i>SQNR</span><span><i class="sw" style="background:{_ORANGE}"></i>own SQNR (float inputs)</span>'
        f"<span>bars clipped at {SQNR_CAP:g} dB</span></p>{_sqnr_chart(report.layers)}"
        f"<h2>Layers, worst first</h2>{_table(report)}{skipped}"
        f'<h2>Worst layers: float vs int8 values</h2><p class="legend"><span><i class="sw" '
        f'style="background:{_GREY}"></i>float</span><span><i class="sw" style="border:2px solid {_BLUE}">'
        f"</i>int8 (dequantized)</span><span>first {kept} samples, counts on a "
        "square-root scale</span></p>"
        f'<div class="hists">{hists}</div></body></html>'
    )


def write_html(report: Report, path: str | os.PathLike[str], worst: int = 4) -> Path:
    """Write the self-contained page atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(report, worst), encoding="utf-8")
    os.replace(tmp, path)
    return path
