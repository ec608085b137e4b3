"""Attacks: RGB out, size capped, deterministic per seed, and each family within its ranges."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from pictrace.evaluate import (
    ATTACKS,
    FAMILIES,
    MAX_SIDE,
    build_attacks,
    crop_box,
    overlay_on,
    synthetic_background,
)

EXPECTED_FAMILIES = {
    "crop_small", "crop_medium", "crop_large", "overlay", "rotate_any", "rotate_90", "mirror",
    "mirror_crop", "perspective", "caption", "emoji_overlay", "shapes", "jpeg_heavy", "resize",
    "colour", "negative", "blur", "noise", "border", "screenshot", "combo",
}  # fmt: skip


def picture(size: tuple[int, int] = (256, 192), seed: int = 0) -> Image.Image:
    """A synthetic test photo: a colour gradient with a few solid shapes."""
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    pixels = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1).astype(np.uint8)
    img = Image.fromarray(pixels)
    draw = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, max(1, w - 20))), int(rng.integers(0, max(1, h - 20)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x0 + w // 5, y0 + h // 5), fill=colour)
    return img


def run(family: str, seed: int, img: Image.Image | None = None) -> Image.Image:
    return ATTACKS[family](picture() if img is None else img, np.random.default_rng(seed))


def test_registry_has_every_family() -> None:
    assert set(FAMILIES) == EXPECTED_FAMILIES
    assert set(build_attacks([])) == EXPECTED_FAMILIES


@pytest.mark.parametrize("family", sorted(EXPECTED_FAMILIES))
def test_rgb_sane_size_and_deterministic(family: str) -> None:
    first, again = run(family, 7), run(family, 7)
    assert first.mode == "RGB"
    assert min(first.size) >= 1 and max(first.size) <= MAX_SIDE
    assert first.size == again.size and first.tobytes() == again.tobytes()


@pytest.mark.parametrize("family", sorted(EXPECTED_FAMILIES - {"mirror"}))
def test_seed_changes_the_result(family: str) -> None:
    outputs = {run(family, seed).tobytes() for seed in range(4)}
    assert len(outputs) > 1


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "CMYK"])
def test_any_input_mode_gives_rgb(mode: str) -> None:
    img = picture().convert(mode)
    for family in ("crop_medium", "caption", "combo", "overlay"):
        assert run(family, 1, img).mode == "RGB"


def test_large_input_is_capped() -> None:
    big = picture((2000, 1400))
    for family in FAMILIES:
        assert max(run(family, 3, big).size) <= MAX_SIDE, family


@pytest.mark.parametrize(
    ("family", "low", "high"),
    [
        ("crop_small", 0.10, 0.15),
        ("crop_medium", 0.20, 0.40),
        ("crop_large", 0.50, 0.80),
        ("mirror_crop", 0.30, 0.60),
    ],
)
def test_crop_keeps_area_in_range(family: str, low: float, high: float) -> None:
    img = picture()
    for seed in range(25):
        out = run(family, seed, img)
        share = out.width * out.height / (img.width * img.height)
        assert low * 0.95 <= share <= high * 1.05, (seed, share)


def test_crop_is_an_exact_window_of_the_source() -> None:
    img = picture()
    out = run("crop_small", 11, img)
    source, window = np.asarray(img), np.asarray(out)
    scores = cv2.matchTemplate(source, window, cv2.TM_SQDIFF)
    y, x = np.unravel_index(int(np.argmin(scores)), scores.shape)
    assert np.array_equal(source[y : y + out.height, x : x + out.width], window)


def test_mirror_and_rotate_90_move_pixels_exactly() -> None:
    pixels = np.asarray(picture())
    assert np.array_equal(np.asarray(run("mirror", 0)), pixels[:, ::-1])
    turned = np.asarray(run("rotate_90", 5))
    assert any(np.array_equal(turned, np.rot90(pixels, k)) for k in (1, 2, 3))


def test_negative_inverts_every_value_of_the_picture_or_of_a_crop() -> None:
    pixels = np.asarray(picture()).astype(np.int16)
    whole = 0
    for seed in range(8):
        out = 255 - np.asarray(run("negative", seed)).astype(np.int16)
        if out.shape == pixels.shape:
            whole += 1
            assert np.array_equal(out, pixels)
        else:
            assert out.shape[0] < pixels.shape[0] or out.shape[1] < pixels.shape[1]
    assert 0 < whole < 8


def test_border_adds_5_to_25_percent() -> None:
    img = picture()
    for seed in range(10):
        out = run("border", seed, img)
        assert 1.04 <= out.width / img.width <= 1.26
        assert 1.04 <= out.height / img.height <= 1.26


@pytest.mark.parametrize("family", ["shapes", "emoji_overlay"])
def test_cover_hides_roughly_10_to_20_percent(family: str) -> None:
    img = picture()
    for seed in range(8):
        out = run(family, seed, img)
        changed = np.any(np.asarray(out) != np.asarray(img), axis=-1).mean()
        assert 0.08 <= changed <= 0.21, (seed, changed)


def test_jpeg_heavy_keeps_size_but_loses_detail() -> None:
    img = picture()
    out = run("jpeg_heavy", 2, img)
    assert out.size == img.size and out.tobytes() != img.tobytes()


def test_overlay_on_pastes_into_the_background() -> None:
    background = synthetic_background(np.random.default_rng(0), (400, 300))
    out = overlay_on(picture(), background, np.random.default_rng(1))
    assert out.size == background.size
    changed = np.any(np.asarray(out) != np.asarray(background), axis=-1)
    columns = np.flatnonzero(changed.any(axis=0))
    width = columns.max() - columns.min() + 1
    assert 0.38 * 400 <= width <= 0.72 * 400


def test_overlay_draws_backgrounds_from_files(tmp_path: Path) -> None:
    path = tmp_path / "background.png"
    synthetic_background(np.random.default_rng(3), (333, 222)).save(path)
    overlay = build_attacks([path])["overlay"]
    assert overlay(picture(), np.random.default_rng(0)).size == (333, 222)


@settings(max_examples=25, deadline=None)
@given(
    family=st.sampled_from(sorted(EXPECTED_FAMILIES)),
    width=st.integers(8, 1400),
    height=st.integers(8, 1400),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_any_size_any_seed_gives_sane_rgb(
    family: str, width: int, height: int, seed: int
) -> None:
    out = run(family, seed, picture((width, height)))
    assert out.mode == "RGB"
    assert min(out.size) >= 1 and max(out.size) <= MAX_SIDE


@given(
    width=st.integers(10, 3000),
    height=st.integers(10, 3000),
    area=st.floats(0.1, 0.8),
    aspect=st.floats(0.6, 1.6),
    seed=st.integers(0, 1000),
)
def test_property_crop_box_fits_and_keeps_area(
    width: int, height: int, area: float, aspect: float, seed: int
) -> None:
    left, top, right, bottom = crop_box(width, height, area, aspect, np.random.default_rng(seed))
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    w, h = right - left, bottom - top
    assert abs(w * h - area * width * height) <= w + h + 1
