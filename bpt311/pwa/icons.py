"""Draw the app's icons with Pillow: ``python -m bpt311.pwa.icons`` writes them to
static/icons/ (they are committed; run it again only to change the design).

"any" icons are a rounded square; "maskable" ones fill the whole square and keep the
drawing inside the central 80 % safe zone, since phones crop them to their own shape.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BLUE = (11, 61, 145, 255)  # the header colour, --brand in site.css
WHITE = (255, 255, 255, 255)
YELLOW = (255, 196, 37, 255)
SIZES = (192, 512)
FOLDER = Path(__file__).resolve().parents[2] / "static" / "icons"
SCALE = 4  # draw large, then shrink: smooth edges without an anti-aliasing library


def _pin(draw: ImageDraw.ImageDraw, size: int, inner: float) -> None:
    """A map pin with "311" under it, inside a box ``inner`` of the side, centred."""
    box = size * inner
    top = (size - box) / 2
    cx = size / 2
    radius = box * 0.2
    cy = top + box * 0.3
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=YELLOW)
    draw.polygon(
        [
            (cx - radius * 0.8, cy + radius * 0.55),
            (cx + radius * 0.8, cy + radius * 0.55),
            (cx, cy + radius * 2.0),
        ],
        fill=YELLOW,
    )
    hole = radius * 0.42
    draw.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=BLUE)
    font = ImageFont.load_default(size=box * 0.3)
    draw.text((cx, top + box * 0.8), "311", font=font, fill=WHITE, anchor="mm")


def draw_icon(size: int, maskable: bool) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=BLUE)
        _pin(draw, big, 0.62)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.18, fill=BLUE)
        _pin(draw, big, 0.84)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(folder: Path = FOLDER) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for size in SIZES:
        for maskable in (False, True):
            path = folder / f"{'maskable' if maskable else 'icon'}-{size}.png"
            draw_icon(size, maskable).save(path, optimize=True)
            written.append(path)
    # iOS ignores the manifest's icons and asks for this one.
    apple = folder / "apple-touch-icon.png"
    draw_icon(180, True).convert("RGB").save(apple, optimize=True)
    written.append(apple)
    return written


if __name__ == "__main__":
    for path in write_icons():
        print(path)
