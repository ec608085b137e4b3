"""Tiny thumbnails: an indexed photo reduced to 96-24 px on its long side (an avatar, a
favicon-sized preview, a contact sheet's cell), JPEG-compressed, searched as they are and
enlarged back to 400 px.

    .venv/bin/python bench/bench_small.py [--per-family 30] [--negatives 100] [--seed 3]

Negatives are held-out photos reduced the same way, which must not be called copies.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_unseen import Unseen, arguments, run

OUT = Path(__file__).parent / "results" / "small.md"
QUALITY = 80


def _thumbnail(side: int, enlarge: bool = False) -> Unseen:
    def family(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
        small = img.copy()
        small.thumbnail((side, side), Image.Resampling.LANCZOS)
        encoded = io.BytesIO()
        small.save(encoded, "JPEG", quality=QUALITY)
        out = Image.open(io.BytesIO(encoded.getvalue())).convert("RGB")
        if enlarge:
            factor = 400 / max(out.size)
            size = (round(out.width * factor), round(out.height * factor))
            out = out.resize(size, Image.Resampling.BICUBIC)
        return out

    return family


FAMILIES: dict[str, Unseen] = {
    **{f"thumb_{side}": _thumbnail(side) for side in (96, 64, 48, 32, 24)},
    **{f"thumb_{side}_enlarged": _thumbnail(side, True) for side in (32, 24)},
}


def main() -> int:
    title = "Tiny thumbnails, as they are and enlarged"
    return run(FAMILIES, "small", title, arguments(__doc__ or "", OUT))


if __name__ == "__main__":
    sys.exit(main())
