"""What an index holds, read by the library and its shells: its images (one, a page, a count,
by source or by bytes), where their files are (gone, kept uploads) and their thumbnails, and
what its features came from (stats). ``Index`` is one (it opens the store and writes); the CLI
and the HTTP API ask these, never the store."""

from __future__ import annotations

import builtins
from pathlib import Path

from pictrace.arguments import checked_id, checked_page
from pictrace.features.base import FeatureSpec
from pictrace.lookup import resolve
from pictrace.search.duplicates import missing_files
from pictrace.store.base import Store, stats_of, tell_outdated
from pictrace.types import ImageRecord, Stats
from pictrace.uploads import discard_kept, kept_file


class Holdings:
    """Reads of an open store (``store``), its features (``specs``) and where it is."""

    store: Store
    specs: dict[str, FeatureSpec]
    location: str

    def get(self, image_id: int | str) -> ImageRecord:
        return self.store.get(checked_id(image_id))

    def list(self, offset: int = 0, limit: int | None = None) -> list[ImageRecord]:
        """The images in the order they were added: all of them, or ``limit`` from the
        ``offset``-th on (a page, as the HTTP API and the web pages ask)."""
        offset, limit = checked_page(offset, limit)
        return self.store.page(offset, self.store.count() if limit is None else limit)

    def count(self) -> int:
        """How many images the index holds."""
        return self.store.count()

    def resolve(self, id_or_source: str | int) -> ImageRecord:
        return resolve(self.store, id_or_source)

    def with_source(self, source: str) -> ImageRecord | None:
        """The image added from ``source`` exactly as it was given, if any."""
        return self.store.by_source(source)

    def with_bytes(self, byte_sha256: str, present: bool = False) -> builtins.list[ImageRecord]:
        """The images whose file had exactly these bytes (their sha256), by id; ``present``:
        only those whose file is still there (or was no local file)."""
        ids = self.store.by_bytes(byte_sha256)
        if present and ids:
            gone = missing_files(self.store, ids)
            ids = [i for i in ids if i not in gone]
        found = self.store.records(ids)
        return [found[i] for i in sorted(found)]

    def located(self, image_id: int) -> str | None:
        """Where the catalogue last found an image's local file (None: it has none)."""
        return self.store.location_of(image_id)

    def thumbnail(self, image_id: int | str) -> bytes | None:
        """An image's stored JPEG thumbnail (None: no such image, or none stored)."""
        image_id = checked_id(image_id)
        found = self.store.features("thumbnail", [image_id])
        return bytes(found[image_id]) if image_id in found else None

    def missing(self) -> tuple[ImageRecord, ...]:
        """Every image added from a local file that is no longer there (deleted, or moved and
        not added again from its new place; or on a drive not mounted now), by id."""
        gone = missing_files(self.store, self.store.all_ids())
        return tuple(self.store.records(sorted(gone)).values())

    @property
    def uploads(self) -> Path:
        """Where uploaded images are kept (``uploads/<sha256>/<name>`` in the index folder)."""
        return Path(self.location).expanduser().resolve() / "uploads"

    def kept_file(self, source: str) -> Path | None:
        """The file kept in ``uploads`` for an upload's source (``uploads.kept_file``)."""
        return kept_file(self.uploads, source)

    def discard_kept(self, path: Path, byte_sha256: str | None = None) -> None:
        """Delete the upload kept for ``path`` (of ``byte_sha256``, if given), its folder too."""
        discard_kept(self.uploads, path, byte_sha256)

    @property
    def store_kind(self) -> str:
        """The kind of store behind the index (``EmbeddedStore``: one local folder)."""
        return type(self.store).__name__

    def stats(self) -> Stats:
        """Counts, including images whose features an older PicTrace computed (``outdated``:
        adding their sources again refreshes them)."""
        return stats_of(self.store, self.specs, self.location)

    def tell_outdated(self) -> None:
        """Log a warning when another release computed some stored features."""
        tell_outdated(self.store, self.specs, self.location)
