"""Shared surrounds for evaluation: the same template around different photos."""

from __future__ import annotations

from PIL import Image, ImageDraw

from pictrace.evaluate.canvas import text_font


def cover(img: Image.Image, width: int, height: int) -> Image.Image:
    """``img`` scaled to cover width x height and cut to it, centred."""
    scale = max(width / img.width, height / img.height)
    size = (max(width, round(img.width * scale)), max(height, round(img.height * scale)))
    img = img.resize(size)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return img.crop((left, top, left + width, top + height))


def promotion_panel(photo: Image.Image) -> Image.Image:
    """``photo`` cut to a 500 px square beside the same red panel of sale text (900 x 500):
    a part of its own reaching three edges of the picture."""
    canvas = Image.new("RGB", (900, 500), (200, 30, 40))
    canvas.paste(cover(photo, 500, 500), (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((530, 60), "SUMMER", fill="white", font=text_font(70))
    draw.text((530, 150), "SALE 50%", fill="yellow", font=text_font(70))
    draw.text((530, 300), "shop.example.com", fill="white", font=text_font(34))
    draw.text((530, 380), "Free delivery", fill="white", font=text_font(34))
    return canvas
