"""Shared surrounds: different pictures on one floor or in one template must not be copies.

    .venv/bin/python bench/bench_surround.py [--per-kind 20] [--clothing DIR] [--out F]

A marketplace seller shoots every item on the same floor; a meme generator, an app screen or a
promotion panel puts every photo in the same frame. Two such pictures share their surround
exactly (or, for a floor, nearly: the same boards shot again), so keypoints there match and fit
a transform all around the part that differs. This bench measures how often PicTrace calls them
copies, and that edited copies of them are still found:

* **templates**: ``--per-kind`` development photos (one per near-duplicate cluster) in each of
  five surrounds (a textured floor around a product-sized middle, a meme's caption bands, an app
  screen, a promotion panel beside the photo, a desktop viewer's window around a small photo)
  are indexed; as many other photos in the same
  surrounds are searched (negatives: any copy-tier result from the same surround is false), and
  an edited copy of each indexed one (a 10 % crop, a caption band, JPEG quality 60) is searched
  (positives: the original must be the first result, in the copy tier);
* **viewer windows**: ``--per-kind`` other development photos (at most 450 px) and a
  screenshot of each in the same viewer window, ``duplicates`` over all of them: windows of
  different photos must not be linked, each photo should be linked to its window and kept;
* **clothing** (``--clothing``, by default ``/work/shared/labelled/clothing16``: 1,512 photos of
  16 kinds of garment, many shot on the same floors): ``duplicates`` over all of them; a link
  between two kinds of garment is certainly false, links within a kind are mostly false too (a
  helper labelled 203 of 211 by eye in the release before this bench).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devset import read_manifest, split_devset
from workspace import ROOT, publish

from pictrace import Index
from pictrace.evaluate.canvas import load_rgb, text_font
from pictrace.evaluate.surrounds import cover, promotion_panel

CLOTHING = Path("/work/shared/labelled/clothing16")
OUT = Path(__file__).parent / "results" / "surround.md"
Surround = Callable[[Image.Image, Image.Image], Image.Image]


def floor(photo: Image.Image, ground: Image.Image) -> Image.Image:
    """The photo as a product (58 % of each side) in the middle of the same floor."""
    canvas = cover(ground, 640, 640)
    canvas.paste(cover(photo, 370, 370), (135, 135))
    return canvas


def meme(photo: Image.Image, _: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (600, 700), "white")
    canvas.paste(cover(photo, 600, 460), (0, 120))
    draw = ImageDraw.Draw(canvas)
    draw.text((24, 28), "WHEN THE MONDAY MEETING", fill="black", font=text_font(46))
    draw.text((24, 612), "COULD HAVE BEEN AN EMAIL", fill="black", font=text_font(46))
    return canvas


def app_screen(photo: Image.Image, _: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (540, 1000), (245, 245, 250))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 540, 60), fill=(30, 30, 30))
    draw.text((20, 15), "9:41   LTE  87%", fill="white", font=text_font(26))
    draw.rectangle((0, 60, 540, 160), fill=(59, 89, 152))
    draw.text((20, 85), "PhotoShare  Feed", fill="white", font=text_font(40))
    canvas.paste(cover(photo, 540, 540), (0, 200))
    draw.text((20, 760), "Liked by anna_k and 1,204 others", fill="black", font=text_font(26))
    draw.text((20, 810), "#weekend #travel #nofilter", fill=(0, 60, 160), font=text_font(26))
    draw.rectangle((0, 900, 540, 1000), fill=(230, 230, 235))
    draw.text((40, 930), "Home  Search  +  Reels  Me", fill="black", font=text_font(30))
    return canvas


def promo(photo: Image.Image, _: Image.Image) -> Image.Image:
    return promotion_panel(photo)


def viewer_window(photo: Image.Image, _: Image.Image) -> Image.Image:
    """A desktop photo viewer's window (1600 x 900) showing the photo at its own size (long
    side at most 450 px) on its dark backdrop, with a sidebar, a toolbar and an info panel."""
    canvas = Image.new("RGB", (1600, 900), (236, 236, 236))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 1600, 36), fill=(50, 50, 55))
    draw.text((700, 8), f"IMG_{photo.width}{photo.height}.jpg - Photos", fill="white",
              font=text_font(18))  # fmt: skip
    for row, label in enumerate(["Library", "Memories", "People", "Places", "Favourites"]):
        draw.text((20, 60 + 40 * row), label, fill=(40, 40, 40), font=text_font(20))
    draw.rectangle((240, 36, 1600, 84), fill=(250, 250, 250))
    for k in range(8):
        draw.rounded_rectangle((270 + 56 * k, 44, 306 + 56 * k, 76), 6, outline=(120, 120, 120))
    draw.rectangle((240, 84, 1320, 900), fill=(30, 30, 30))
    draw.text((1340, 110), f"{photo.width} x {photo.height}", fill=(60, 60, 60), font=text_font(20))
    shown = photo.copy()
    shown.thumbnail((450, 450))
    canvas.paste(shown, (780 - shown.width // 2, 492 - shown.height // 2))
    return canvas


SURROUNDS: dict[str, Surround] = {
    "floor": floor,
    "meme": meme,
    "app screen": app_screen,
    "promotion panel": promo,
    "viewer window": viewer_window,
}


def edited(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A 10 % crop from a random side, a caption band over a fifth, JPEG quality 60."""
    w, h = picture.size
    dx, dy = round(w * 0.1 * rng.uniform(0, 1)), round(h * 0.1 * rng.uniform(0, 1))
    out = picture.crop((dx, dy, dx + round(w * 0.9), dy + round(h * 0.9)))
    band = out.height // 5
    top = int(rng.integers(0, out.height - band))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, top, out.width, top + band), fill="black")
    font = text_font(band // 2)
    draw.text((10, top + band // 4), "BREAKING: seen online", fill="white", font=font)
    return out


def template_rows(per_kind: int, work: Path) -> list[str]:
    split = split_devset(read_manifest())
    photos = list(split.index) + list(split.negatives)
    rng = np.random.default_rng(11)
    order = rng.permutation(len(photos))
    ground = load_rgb(photos[int(order[0])])
    rows = [
        "| surround | indexed | negatives with a false copy "
        "| edited copies found as copy at rank 1 |",
        "|---|---|---|---|",
    ]
    used = 1
    for name, surround in SURROUNDS.items():
        chosen = [photos[int(i)] for i in order[used : used + 2 * per_kind]]
        used += 2 * per_kind
        folder = work / name.replace(" ", "_")
        folder.mkdir(parents=True)
        for k, path in enumerate(chosen):
            surround(load_rgb(path), ground).save(folder / f"{k:03d}.jpg", quality=90)
        indexed = [folder / f"{k:03d}.jpg" for k in range(per_kind)]
        with Index.open(folder / "index") as index:
            index.add([str(p) for p in indexed])
        false = found = 0
        with Index.open(folder / "index", readonly=True) as index:
            for k in range(per_kind, 2 * per_kind):
                matches = index.search(folder / f"{k:03d}.jpg", k=3).matches
                false += any(m.tier != "similar" for m in matches)
            for path in indexed:
                edited(Image.open(path).convert("RGB"), rng).save(folder / "edit.jpg", quality=60)
                best = index.search(folder / "edit.jpg", k=1).matches
                found += bool(best) and best[0].source == str(path) and best[0].tier == "copy"
        rows.append(f"| {name} | {per_kind} | {false} of {per_kind} | {found} of {per_kind} |")
    return rows


def window_rows(per_kind: int, work: Path) -> list[str]:
    """``duplicates`` over ``per_kind`` photos (long side at most 450 px, as files of their
    own) and a screenshot of each in the same viewer window: a link between two windows is
    false; each photo should be linked to its window, and kept over it."""
    split = split_devset(read_manifest())
    photos = list(split.negatives)[-per_kind:]  # photos the templates above do not use
    folder = work / "windows"
    folder.mkdir(parents=True)
    for k, path in enumerate(photos):
        photo = load_rgb(path)
        photo.thumbnail((450, 450))
        photo.save(folder / f"photo_{k:03d}.jpg", quality=92)
        viewer_window(photo, photo).save(folder / f"window_{k:03d}.png")
    with Index.open(folder / "index") as index:
        index.add([str(folder)])
        groups = index.duplicates()
    by_id = {m.id: Path(m.source).stem for g in groups for m in g.members}
    links = [(by_id[a], by_id[b]) for g in groups for a, b in g.pairs]
    false = sum(a[-3:] != b[-3:] for a, b in links)
    found = {a[-3:] for a, b in links if a[-3:] == b[-3:]}
    kept = sum(
        Path(g.members[0].source).stem.startswith("photo_")
        for g in groups
        if any(m.source.endswith(".jpg") for m in g.members)
        and any(m.source.endswith(".png") for m in g.members)
    )
    biggest = max((len(g.members) for g in groups), default=0)
    return [
        "| photos | windows | links between different photos (false) | photos linked to "
        "their window | groups keeping the photo | largest group |",
        "|---|---|---|---|---|---|",
        f"| {per_kind} | {per_kind} | {false} | {len(found)} of {per_kind} | {kept} | {biggest} |",
    ]


def clothing_rows(folder: Path, work: Path) -> list[str]:
    started = time.perf_counter()
    with Index.open(work / "clothing") as index:
        index.add([str(folder)])
        groups = index.duplicates()
    seconds = time.perf_counter() - started
    kind = {m.source: Path(m.source).parent.name for g in groups for m in g.members}
    by_id = {m.id: m.source for g in groups for m in g.members}
    links = [(by_id[a], by_id[b]) for g in groups for a, b in g.pairs]
    across = sum(kind[a] != kind[b] for a, b in links)
    mixed = sum(len({kind[m.source] for m in g.members}) > 1 for g in groups)
    files = sum(len(g.members) for g in groups)
    return [
        "| photos | groups | files in groups | links | links across kinds (false) | groups "
        "mixing kinds | seconds (add + duplicates) |",
        "|---|---|---|---|---|---|---|",
        f"| {sum(1 for p in folder.rglob('*') if p.is_file())} | {len(groups)} | {files} | "
        f"{len(links)} | {across} | {mixed} | {seconds:.0f} |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--clothing", type=Path, default=CLOTHING)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    work = ROOT / "surround"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lines = [
        "# Shared surrounds: one floor, one template, different pictures\n",
        f"Command: `python bench/{Path(sys.argv[0]).name} --per-kind {args.per_kind}`\n",
        "## Templates (development photos)\n",
        *template_rows(args.per_kind, work),
        "",
        "## Small photos and screenshots of them in one viewer window, `duplicates`\n",
        *window_rows(args.per_kind, work),
        "",
        f"## Clothing photos (`{args.clothing}`), `duplicates`\n",
        *(clothing_rows(args.clothing, work) if args.clothing.is_dir() else ["(not found)"]),
    ]
    publish("\n".join(lines), args.out, scratch=work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
