"""Draw the book's logo and favicon: book/images/logo.svg.

Run once, and again only to change the design: `python3 tools/make_logo.py`.
The picture is the book in one glance: three bars are softmax(x) for three logits
(the probabilities, which sum to one), and the orange tangent touches the curve
exp(x) that produces them (the derivative). Only the standard library is used, so
the output is plain, reproducible SVG text.
"""

from __future__ import annotations

import math
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "book" / "images" / "logo.svg"
SIZE = 64
BLUE, ORANGE, WHITE = "#0072B2", "#E69F00", "#FFFFFF"

# Logits and their softmax: the bar heights.
LOGITS = (0.3, 1.4, 2.5)  # evenly spaced, so exp(x) passes through every bar top


def softmax(xs: tuple[float, ...]) -> list[float]:
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def f(v: float) -> str:
    """Coordinates with one decimal, so the file is short and stable."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def draw() -> str:
    left, right, bottom, top = 10.0, 54.0, 54.0, 10.0
    height = bottom - top
    probs = softmax(LOGITS)
    bar_w, gap = 10.0, 5.0
    x0 = left + 2.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label="The Softmax Derivative">',
        "<title>The Softmax Derivative</title>",
        f'<rect width="{SIZE}" height="{SIZE}" rx="12" fill="{BLUE}"/>',
    ]
    # Bars: softmax probabilities, the largest one reaching most of the height.
    scale = height * 0.9 / max(probs)
    for k, p in enumerate(probs):
        h = p * scale
        x = x0 + k * (bar_w + gap)
        parts.append(
            f'<rect x="{f(x)}" y="{f(bottom - h)}" width="{f(bar_w)}" height="{f(h)}" '
            f'rx="1.5" fill="{WHITE}" fill-opacity="0.92"/>'
        )
    # The curve exp(x) through the bar tops, scaled to the same axes.
    def to_px(x: float) -> tuple[float, float]:
        u = (x - LOGITS[0]) / (LOGITS[-1] - LOGITS[0])
        px = x0 + bar_w / 2 + u * 2 * (bar_w + gap)
        py = bottom - math.exp(x - max(LOGITS)) * probs[-1] * scale
        return px, py

    start, stop, steps = LOGITS[0] - 0.5, LOGITS[-1], 40
    pts = [to_px(start + (stop - start) * i / steps) for i in range(steps + 1)]
    path = "M" + " L".join(f"{f(px)} {f(py)}" for px, py in pts)
    parts.append(f'<path d="{path}" fill="none" stroke="{ORANGE}" stroke-width="2.2" '
                 'stroke-linecap="round"/>')
    # Tangent at the middle logit: the derivative of exp is exp itself.
    xm = LOGITS[1]
    (pa, qa), (pb, qb) = to_px(xm - 0.01), to_px(xm + 0.01)
    slope = (qb - qa) / (pb - pa)
    cx, cy = to_px(xm)
    dx = 11.0
    parts.append(
        f'<line x1="{f(cx - dx)}" y1="{f(cy - slope * dx)}" x2="{f(cx + dx)}" '
        f'y2="{f(cy + slope * dx)}" stroke="{ORANGE}" stroke-width="2.2" stroke-linecap="round"/>'
    )
    parts.append(f'<circle cx="{f(cx)}" cy="{f(cy)}" r="3" fill="{ORANGE}" '
                 f'stroke="{BLUE}" stroke-width="1.2"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(draw(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(OUT.parent.parent.parent)}")
