"""An index in a folder nobody may write (a read-only mount, an archive share) is searched,
listed and grouped; writing to it fails with a message that says why."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pictrace import Index
from pictrace.errors import SourceUnreadable


def _make_read_only(folder: Path, mount_point: Path) -> Path:
    """``folder`` seen through a read-only bind mount (root: permissions do not stop root),
    else with its write permissions taken away."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return folder
    mount_point.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(mount_point)], check=True)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(mount_point)], check=True)
    return mount_point


@pytest.fixture
def read_only_index(built_index: Path, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "archive"
    shutil.copytree(built_index, folder)
    with Index.open(folder) as index:  # links from an earlier run, kept in the folder
        index.duplicates()
    seen = _make_read_only(folder, tmp_path / "mounted")
    assert not os.access(seen, os.W_OK)
    yield seen
    _make_writable(folder, seen)


def _make_writable(folder: Path, seen: Path) -> None:
    """Undo ``_make_read_only``."""
    if seen != folder:
        subprocess.run(["umount", "--lazy", str(seen)], check=True)
        return
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def test_a_read_only_folder_is_searched_listed_and_grouped(read_only_index, photos):
    with Index.open(read_only_index, readonly=True) as index:
        best = index.search(photos / "coffee.jpg", k=1).matches[0]
        assert best.tier == "exact" and best.source.endswith("coffee.jpg")
        assert index.stats().images == len(index.list()) > 20
        groups = index.duplicates()
    assert any(
        {Path(m.source).name for m in g.members} >= {"box.png", "box_in_scene.png"} for g in groups
    )
    names = {p.name for p in read_only_index.iterdir()}
    assert {"catalogue.sqlite", "copies.sqlite", "vectors"} <= names
    assert not [n for n in names if n.endswith(("-wal", "-shm", ".tmp"))]


def test_writing_to_a_read_only_folder_says_so(read_only_index):
    with pytest.raises(SourceUnreadable, match="cannot write to the index folder"):
        Index.open(read_only_index)


def test_a_read_only_copy_with_a_writers_log_is_not_read_as_if_complete(photos, tmp_path):
    """A copy taken while a writer had changes in its log: an immutable read would not see
    them, so the open says why it cannot read the folder instead of answering without them."""
    from pictrace.errors import IndexLocked

    live = tmp_path / "live"
    writer = Index.open(live)
    try:
        writer.add([photos / "coffee.jpg"])
        folder = tmp_path / "copy"
        folder.mkdir()
        for name in ("catalogue.sqlite", "catalogue.sqlite-wal"):
            shutil.copy(live / name, folder / name)
    finally:
        writer.close()
    assert (folder / "catalogue.sqlite-wal").stat().st_size > 0
    seen = _make_read_only(folder, tmp_path / "mounted")
    try:
        with pytest.raises(IndexLocked, match="a writer's log"):
            Index.open(seen, readonly=True)
    finally:
        _make_writable(folder, seen)


def test_a_read_only_folder_keeps_the_features_it_was_built_with(photos, tmp_path):
    folder = tmp_path / "global"
    with Index.open(folder, local_features=False) as index:
        index.add([photos / "coffee.jpg", photos / "rocket.jpg"])
    seen = _make_read_only(folder, tmp_path / "mounted")
    try:
        with Index.open(seen, readonly=True) as index:
            assert not index.settings.local_features and "keypoints" not in index.specs
    finally:
        _make_writable(folder, seen)
