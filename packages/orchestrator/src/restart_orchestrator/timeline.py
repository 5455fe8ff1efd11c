"""A picture of a run: phases and services on a time axis, as hand-written SVG.

svg = render_timeline(json.loads(Path("report.json").read_text()))
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

_ROW = 26
_LEFT = 190
_WIDTH = 1000
_TOP = 56
_COLOURS = {
    "stop": "#d9822b",
    "start": "#2b8a3e",
    "phase": "#4263eb",
    "failed": "#e03131",
    "other": "#868e96",
}


def _colour(span: dict[str, Any]) -> str:
    if not span.get("ok", True):
        return _COLOURS["failed"]
    label = str(span["label"])
    if span["lane"] == "phase":
        return _COLOURS["phase"]
    for word in ("stop", "start"):
        if label.startswith(word):
            return _COLOURS[word]
    return _COLOURS["other"]


def _tick_step(total: float) -> float:
    raw = max(total / 10, 0.001)
    magnitude = float(10 ** math.floor(math.log10(raw)))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return 10 * magnitude


def render_timeline(report: dict[str, Any]) -> str:
    """SVG text of the report's spans: one lane for phases, one per service."""
    spans = report.get("spans", [])
    lanes = ["phase", "gate"] if any(s["lane"] == "gate" for s in spans) else ["phase"]
    lanes += list(report.get("scope", []))
    lanes += [s["lane"] for s in spans if s["lane"] not in lanes]
    lanes = list(dict.fromkeys(lanes))
    total = max([report.get("duration_s") or 0.0] + [s["end_s"] for s in spans] + [0.001])
    scale = (_WIDTH - _LEFT - 20) / total
    height = _TOP + _ROW * len(lanes) + 40
    title = (
        f"restartctl {report.get('command', 'run')} of fleet {report.get('fleet')}: "
        f"{report.get('outcome')} in {total:.1f}s ({report.get('started_at', '')})"
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{_WIDTH}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    step = _tick_step(total)
    tick = 0.0
    axis_y = _TOP + _ROW * len(lanes)
    while tick <= total + 1e-9:
        x = _LEFT + tick * scale
        out.append(
            f'<line x1="{x:.1f}" y1="{_TOP - 6}" x2="{x:.1f}" y2="{axis_y}" stroke="#e9ecef"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" '
            f'fill="#495057">{tick:g}s</text>'
        )
        tick += step
    for row, lane in enumerate(lanes):
        y = _TOP + row * _ROW
        name = "phases" if lane == "phase" else lane
        out.append(f'<text x="10" y="{y + 16}">{escape(name)}</text>')
        for span in (s for s in spans if s["lane"] == lane):
            x = _LEFT + span["start_s"] * scale
            width = max((span["end_s"] - span["start_s"]) * scale, 1.5)
            label = f"{span['label']} {span['end_s'] - span['start_s']:.1f}s"
            out.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{_ROW - 8}" '
                f'rx="3" fill="{_colour(span)}" fill-opacity="0.85">'
                f"<title>{escape(label)}</title></rect>"
            )
            if width > 7 * len(label):
                out.append(
                    f'<text x="{x + 4:.1f}" y="{y + 16}" fill="white">{escape(label)}</text>'
                )
    legend_y = axis_y + 32
    for index, (key, colour) in enumerate(_COLOURS.items()):
        x = _LEFT + index * 110
        out.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{legend_y}">{key}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
