"""Shared fixtures: the bundled sample photos and a session-wide index built from them."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings
from PIL import Image

from pictrace import Index, Settings, load_settings

# The same examples on every run and machine: a property a change breaks fails every time, and
# CI cannot fail on an example no run before it drew (search quality is measured in bench/,
# over hundreds of queries, not by chance draws here).
hypothesis_settings.register_profile("pictrace", derandomize=True, database=None)
hypothesis_settings.load_profile("pictrace")

PHOTOS = Path(__file__).resolve().parents[1] / "examples" / "photos"


@pytest.fixture(scope="session")
def photos() -> Path:
    return PHOTOS


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A read-mostly index of every bundled photo (copy it before mutating)."""
    folder = tmp_path_factory.mktemp("built") / "index"
    with Index.open(folder) as index:
        report = index.add([PHOTOS])
    assert not report.failed
    yield folder
    # a test that searched it for duplicates would have left its searches to later copies
    assert not (folder / "copies.sqlite").exists(), "copy the built index before duplicates"


@pytest.fixture
def index_copy(built_index: Path, tmp_path: Path) -> Iterator[Index]:
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    with Index.open(target) as index:
        yield index


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noise_image(seed: int, size: tuple[int, int] = (256, 192)) -> Image.Image:
    """A random but structured picture (blocks of colour), unlike any photo."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.NEAREST)


@pytest.fixture
def run(capsys):
    """The ``pictrace`` command line in this process: (exit code, stdout, stderr)."""
    from pictrace.cli import main

    def invoke(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke
