"""Kept uploads are found where the index folder is now, and nothing outside them is named."""

from pathlib import Path

from pictrace.uploads import discard_kept, kept_file

DIGEST = "ab" * 32


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    uploads = tmp_path / "index" / "uploads"
    (uploads / DIGEST).mkdir(parents=True)
    kept = uploads / DIGEST / "kept.png"
    kept.write_bytes(b"png")
    return uploads, kept


def test_a_moved_index_finds_its_kept_files(tmp_path):
    uploads, kept = _layout(tmp_path)
    assert kept_file(uploads, str(kept)) == kept
    assert kept_file(uploads, f"/gone/place/uploads/{DIGEST}/kept.png") == kept
    assert kept_file(uploads, f"/gone/place/uploads/{DIGEST}/other.png") is None
    assert kept_file(uploads, "https://example.com/uploads/x.png") is None


def test_nothing_outside_the_uploads_is_named_or_deleted(tmp_path):
    uploads, kept = _layout(tmp_path)
    mine = tmp_path / "photos" / "mine.jpg"
    mine.parent.mkdir()
    mine.write_bytes(b"jpg")
    sneaky = tmp_path / "somewhere" / "uploads" / ".." / ".." / "photos" / "mine.jpg"
    assert kept_file(uploads, str(sneaky)) is None and kept_file(uploads, str(mine)) is None
    discard_kept(uploads, sneaky)
    discard_kept(uploads, mine)
    assert mine.is_file()
    backup = tmp_path / "backup" / "uploads" / DIGEST / "kept.png"  # a copy that exists
    backup.parent.mkdir(parents=True)
    backup.write_bytes(b"png")
    discard_kept(uploads, backup)
    assert backup.is_file() and kept.is_file()
    assert kept_file(uploads, f"/gone/uploads/{DIGEST}/..") is None
    discard_kept(uploads, kept)
    assert not kept.exists() and not kept.parent.exists()


def test_only_a_file_kept_under_the_images_own_digest_is_its_upload(tmp_path):
    """Given the image's digest, a kept file under another digest is not its upload: the
    same name under another image's folder is never deleted for it."""
    uploads, kept = _layout(tmp_path)
    assert kept_file(uploads, str(kept), DIGEST) == kept
    assert kept_file(uploads, str(kept), "cd" * 32) is None
    assert kept_file(uploads, f"/gone/uploads/{DIGEST}/kept.png", "cd" * 32) is None
    discard_kept(uploads, kept, "cd" * 32)
    assert kept.is_file()
    loose = uploads / "holiday.png"  # in uploads, but not as PicTrace keeps uploads
    loose.write_bytes(b"png")
    nested = uploads / "2023" / "x.png"
    nested.parent.mkdir()
    nested.write_bytes(b"png")
    for path in (loose, nested):
        assert kept_file(uploads, str(path)) is None
        discard_kept(uploads, path)
        assert path.is_file()
