"""The tutorial's "Generator and Discriminator Loss During Training" plot, drawn with Pillow.

matplotlib is not a dependency and would be the heaviest one; two polylines, axes and a legend are not.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1000, 500
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 95, 20, 40, 50
COLOURS = {"G": (31, 119, 180), "D": (255, 127, 14)}  # matplotlib's first two, as in the tutorial figure


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (count - 1) for i in range(count)]


def _downsample(xs: Sequence[float], ys: Sequence[float], points: int) -> tuple[list[float], list[float]]:
    """Average into at most `points` buckets so a 100k-step run still draws a readable line."""
    if len(xs) <= points:
        return list(xs), list(ys)
    size = len(xs) / points
    out_x, out_y = [], []
    for b in range(points):
        lo, hi = int(b * size), max(int((b + 1) * size), int(b * size) + 1)
        out_x.append(sum(xs[lo:hi]) / (hi - lo))
        out_y.append(sum(ys[lo:hi]) / (hi - lo))
    return out_x, out_y


def loss_curve(steps: Sequence[int], loss_g: Sequence[float], loss_d: Sequence[float]) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, title_font = _font(13), _font(16)
    draw.text((WIDTH // 2, 12), "Generator and Discriminator Loss During Training", fill="black",
              font=title_font, anchor="mt")
    x0, y0, x1, y1 = MARGIN_L, MARGIN_T, WIDTH - MARGIN_R, HEIGHT - MARGIN_B
    draw.rectangle((x0, y0, x1, y1), outline="black")
    draw.text(((x0 + x1) // 2, HEIGHT - 18), "iterations", fill="black", font=font, anchor="mm")
    draw.text((8, (y0 + y1) // 2), "Loss", fill="black", font=font, anchor="lm")
    if not steps:
        return image
    xmin, xmax = min(steps), max(max(steps), min(steps) + 1)
    values = [v for v in (*loss_g, *loss_d)]
    ymin, ymax = min(0.0, min(values)), max(values) * 1.05 or 1.0

    def px(x: float, y: float) -> tuple[float, float]:
        return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0), y1 - (y - ymin) / (ymax - ymin) * (y1 - y0)

    for t in _ticks(xmin, xmax):
        x, _ = px(t, ymin)
        draw.line((x, y1, x, y1 + 5), fill="black")
        draw.text((x, y1 + 8), f"{t:,.0f}", fill="black", font=font, anchor="mt")
    for t in _ticks(ymin, ymax):
        _, y = px(xmin, t)
        draw.line((x0 - 5, y, x0, y), fill="black")
        draw.text((x0 - 8, y), f"{t:.2f}", fill="black", font=font, anchor="rm")
    for name, ys in (("G", loss_g), ("D", loss_d)):
        sx, sy = _downsample(steps, ys, x1 - x0)
        points = [px(x, y) for x, y in zip(sx, sy)]
        if len(points) == 1:
            points *= 2
        draw.line(points, fill=COLOURS[name], width=1)
    for i, name in enumerate(("G", "D")):
        ly = y0 + 12 + i * 18
        draw.line((x1 - 60, ly, x1 - 35, ly), fill=COLOURS[name], width=3)
        draw.text((x1 - 28, ly), name, fill="black", font=font, anchor="lm")
    return image
