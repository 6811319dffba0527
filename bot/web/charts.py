"""Small server-side SVG charts (no scripts, no CDN): bars, and stacked bars per week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

SERIES = 6  # colours (classes s0..s5 in admin.css); more series are summed as "other"


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> str:
    """Horizontal bars, one per (label, value), with the value at the end of each bar."""
    row, label_w, bar_w = 26, 170, 300
    height = max(1, len(items)) * row + 30
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bar-chart" role="img" '
        f'viewBox="0 0 {label_w + bar_w + 70} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        parts.append(f'<text class="empty" x="10" y="24">{escape("—")}</text>')
    for i, (label, value) in enumerate(items):
        y = 10 + i * row
        w = int(bar_w * value / top)
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 15}">{escape(label)}</text>'
            f'<rect class="bar s{i % SERIES}" x="{label_w}" y="{y}" width="{max(w, 1)}" '
            f'height="{row - 8}"><title>{escape(label)}: {value:g}{unit}</title></rect>'
            f'<text class="value" x="{label_w + w + 6}" y="{y + 15}">{value:g}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def weekly_chart(
    weeks: Sequence[date],
    per_week: Mapping[date, Mapping[str, int]],
    series: Sequence[str],
    names: Mapping[str, str],
    *,
    title: str,
    other: str,
) -> str:
    """Stacked columns: cases per week, coloured by municipality (the biggest few, then other)."""
    shown = list(series[: SERIES - 1])
    width, height, left, bottom = 640, 260, 36, 40
    plot_w, plot_h = width - left - 10, height - bottom - 14
    totals = [sum(per_week[w].values()) for w in weeks]
    top = max(totals, default=0) or 1
    col = plot_w / max(1, len(weeks))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart weekly-chart" role="img" '
        f'viewBox="0 0 {width} {height + 20 * ((len(shown) + 2) // 3)}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{left}" y1="{14 + plot_h}" x2="{width - 10}" y2="{14 + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="20">{top}</text>',
        f'<text class="tick" x="{left - 6}" y="{14 + plot_h}">0</text>',
    ]
    for i, week in enumerate(weeks):
        x = left + i * col + col * 0.15
        y: float = 14 + plot_h
        counts = per_week[week]
        stack = [(s, counts.get(s, 0)) for s in shown]
        stack.append(("__other", sum(n for m, n in counts.items() if m not in shown)))
        for j, (place, n) in enumerate(stack):
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            cls = f"s{j}" if place != "__other" else "other"
            label = names.get(place, other if place == "__other" else place)
            parts.append(
                f'<rect class="bar {cls}" x="{x:.1f}" y="{y:.1f}" width="{col * 0.7:.1f}" '
                f'height="{h:.1f}"><title>{week.isoformat()} {escape(label)}: {n}</title></rect>'
            )
        if len(weeks) <= 12 or i % max(1, len(weeks) // 8) == 0:
            parts.append(
                f'<text class="tick week" x="{x + col * 0.35:.1f}" y="{height - bottom + 16}">'
                f"{week.strftime('%d.%m')}</text>"
            )
    legend = [*shown, "__other"]
    for j, place in enumerate(legend):
        lx, ly = left + (j % 3) * 200, height + 4 + (j // 3) * 20
        cls = f"s{j}" if place != "__other" else "other"
        label = names.get(place, other if place == "__other" else place)
        parts.append(
            f'<rect class="bar {cls}" x="{lx}" y="{ly}" width="12" height="12"/>'
            f'<text class="legend" x="{lx + 18}" y="{ly + 11}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
