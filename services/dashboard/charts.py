"""A stacked bar chart as an SVG string, drawn on the server: no JavaScript, nothing to download.

Amounts stay Decimal; only pixel geometry is computed with floats, and every bar segment
carries its exact amount as a ``<title>`` tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from services.dashboard.formatting import money

__all__ = ["PALETTE", "Series", "stacked_bars"]

PALETTE = ("#2f5bea", "#12b76a", "#f79009", "#7a5af8", "#ee46bc", "#0ba5ec", "#667085", "#b42318", "#84cc16", "#a15c07")


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    color: str
    values: dict[date, Decimal]


def _nice_step(top: Decimal) -> Decimal:
    """A round gridline step giving 3–6 lines up to ``top``."""
    if top <= 0:
        return Decimal(1)
    raw = top / 4
    magnitude = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, 5, 10):
        if raw <= magnitude * factor:
            return magnitude * factor
    return magnitude * 10


def stacked_bars(days: Sequence[date], series: Sequence[Series], *, width: int = 720, height: int = 260,
                 title: str = "") -> str:
    """One bar per day, one segment per series, with money gridlines and day labels."""
    left, right, top_pad, bottom = 70, 8, 10, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    totals = {d: sum((s.values.get(d, Decimal(0)) for s in series), Decimal(0)) for d in days}
    peak = max(totals.values(), default=Decimal(0))
    step = _nice_step(peak)
    lines = int(peak / step) + 1 if peak > 0 else 1
    axis_top = step * lines
    scale = plot_h / float(axis_top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
             f' aria-label="{escape(title)}" class="stacked">']
    for n in range(lines + 1):
        value = step * n
        y = top_pad + plot_h - float(value) * scale
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaecf0"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="13" fill="#667085">'
                     f'{escape(money(value))}</text>')
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    label_every = 1 if len(days) <= 16 else 2 if len(days) <= 31 else 7
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top_pad + plot_h
        for s in series:
            amount = s.values.get(day, Decimal(0))
            if amount <= 0:
                continue
            h = float(amount) * scale
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" fill="{s.color}">'
                         f'<title>{escape(day.isoformat())} {escape(s.label)}: {escape(money(amount, exact=True))}</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="13"'
                         f' fill="#667085">{day.day}</text>')
    parts.append("</svg>")
    return "".join(parts)


def swatch(color: str) -> str:
    return f'<svg viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="{color}"/></svg>'
