"""Adding images, behind ``Index.add``: sources -> decoded images -> features -> catalogue.

The stages overlap so both cores stay busy: the pool decodes each image and computes its
per-image features (keypoints, hashes, ...) right away, up to two batches ahead of the calling
thread, which runs the CNN over one batch while a writer thread stores the previous one. With
nothing left to read ahead, the pool takes half of each remaining batch's CNN. (Running the
per-image features beside the CNN of their own batch instead left the pool idle ~10 % of the
time, waiting for the next batch: BENCHMARKS.md, "Speed".) A source is known again when its bytes
and feature versions are unchanged (skipped), also under another spelling of a local file's
path (its resolved location is catalogued).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from pictrace.decode import byte_digest, decode
from pictrace.errors import (
    IndexError_,
    InputError,
    PicTraceError,
    SourceUnreadable,
    Unprocessable,
)
from pictrace.features.base import Extractor, FeatureSpec, FeatureValue
from pictrace.features.pipeline import (
    PICTURE_FAILURES,
    batched_values,
    encode_all,
    per_image_values,
)
from pictrace.ingest.files import path_aliases, read_file
from pictrace.lookup import may_be
from pictrace.settings import Settings
from pictrace.store.base import Store
from pictrace.store.catalogue import NewImage
from pictrace.tally import (
    Decoded,
    Moved,
    Prepared,
    Progress,
    Stored,
    Tally,
    Unchanged,
    stored_before,
)
from pictrace.threads import quiet_this_thread
from pictrace.types import AddFailure, AddReport, DecodedImage, ImageRecord, Source

log = logging.getLogger("pictrace")
# a batch's items, their preparation, and whether nothing more is read ahead after it
Batch = tuple[list[Source | AddFailure], list[Future[Prepared]], bool]


class Adder:
    """Adds loaded sources to a store with the index's extractors, pool and settings."""

    def __init__(
        self,
        store: Store,
        extractors: Sequence[Extractor],
        specs: dict[str, FeatureSpec],
        pool: Executor,
        settings: Settings,
    ) -> None:
        self.store = store
        self.extractors = extractors
        self.specs = specs
        self.pool = pool
        self.settings = settings
        self._one_add = threading.Lock()  # two at once would both take a file for new

    def add(
        self,
        loaded: Iterator[Source | AddFailure],
        total: int,
        progress: Progress | None,
        ahead: int = 0,
    ) -> AddReport:
        """Add every loaded source, the pool decoding ``ahead`` batches before they are
        needed. Only local files are read ahead: sources that arrive slowly (downloads,
        crawls, uploads) are stored as soon as their batch is complete. Every batch is stored
        in one transaction, in order; progress counts stored batches; a failure to store
        stops the add with that error (the batches before it stay stored). One add at a
        time: another thread's waits."""
        tally = Tally(total, progress)
        try:
            with self._one_add:
                self._add_batches(tally, loaded, ahead)
        except KeyboardInterrupt:
            log.warning(
                "interrupted: %d images of this add were stored (adding the same sources "
                "again goes on from there)",
                len(tally.added),
            )
            raise
        except IndexError_ as exc:  # a full disk, say: say what is stored all the same
            if not tally.added:
                raise
            raise stored_before(exc, len(tally.added)) from exc
        return tally.report()

    def _add_batches(self, tally: Tally, loaded: Iterator[Source | AddFailure], ahead: int) -> None:
        batches = self._prepared_batches(loaded, ahead)
        in_flight: deque[tuple[Future[Stored] | None, int]] = deque()  # one write at most
        with (
            ThreadPoolExecutor(1, "pictrace-writer", quiet_this_thread) as writer,
            contextlib.closing(batches),
        ):
            try:
                for batch, prepared, pool_free in batches:
                    images, moves, again = tally.new_images(f.result() for f in prepared)
                    if again:  # further copies of a file that moved: new images
                        fresh = (self.prepare(s, moves=False) for s in again)
                        images += tally.new_images(fresh)[0]
                    entries = self._entries(images, tally.failed, self.pool if pool_free else None)
                    while in_flight:  # the previous write, before this one starts
                        tally.stored(*in_flight.popleft())
                    future = (
                        writer.submit(self._store, entries, moves) if entries or moves else None
                    )
                    in_flight.append((future, len(batch)))
                    if not ahead:  # a slow source: stored and reported before reading on
                        tally.stored(*in_flight.popleft())
            finally:  # the last write, or the one in flight when something failed
                while in_flight:
                    tally.stored(*in_flight.popleft())

    def _store(self, entries: list[NewImage], moves: list[Moved]) -> Stored:
        """Store a batch (on the writer thread): the moved files' new places, then the new
        ids, and those of them that replace an image of the same source (a changed file)."""
        if moves:
            self.store.relocate([(m.image_id, m.source.uri, m.location) for m in moves])
        before = [self.store.by_source(e.source) for e in entries]
        ids = self.store.add(entries) if entries else []
        pairs = [(i, old.id) for i, old in zip(ids, before, strict=True) if old is not None]
        again = [i for i, old in pairs if i == old]  # unchanged bytes: the same id
        return Stored([i for i in ids if i not in again], [p for p in pairs if p[0] != p[1]], again)

    def _prepared_batches(
        self, loaded: Iterator[Source | AddFailure], ahead: int
    ) -> Generator[Batch, None, None]:
        """Batches with their items being prepared on the pool, ``ahead`` more batches
        submitted before one is handed out, each flagged True once there is nothing left to
        read ahead (the pool then only finishes what is queued, and can take half of a
        batch's CNN; slow sources, read without look-ahead, leave the pool to searches).
        Closing it cancels what has not started."""
        started: deque[tuple[list[Source | AddFailure], list[Future[Prepared]]]] = deque()
        try:
            while batch := _take(loaded, self.settings.batch_size):
                started.append((batch, [self.pool.submit(self.prepare, i) for i in batch]))
                if len(started) > ahead:
                    yield (*started.popleft(), False)
            while started:
                yield (*started.popleft(), True)
        finally:
            for _, futures in started:
                for future in futures:
                    future.cancel()

    def prepare(self, item: Source | AddFailure, moves: bool = True) -> Prepared:
        """Failure, an unchanged image (skipped), or the decoded image with its
        per-image features (the batched ones follow in ``_entries``); with ``moves``, a
        local file catalogued before under a place it left is ``Moved``. An unchanged
        image whose features an older PicTrace computed is re-extracted, so adding the same
        folders again brings an index up to date after an upgrade."""
        if isinstance(item, AddFailure):
            return item
        if not _storable(item.uri):
            shown = item.uri.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            reason = f"{shown}: the name is not valid UTF-8 (rename the file to keep it)"
            return AddFailure(shown, reason, SourceUnreadable.code)
        named = self.store.by_source(item.uri)
        existing = self.known(item, named)
        digest = byte_digest(item.data)  # once: the checks below and decode share it
        if existing is not None and existing.byte_sha256 == digest and self._current(existing.id):
            return self._unchanged(existing, item, moves)
        if existing is not None and existing.source != item.uri:  # changed: replace that one
            item = Source(existing.source, item.data, item.page, item.location)
        elif existing is None and item.location and named is not None:
            # the same relative name as another file (from another folder): keep both
            item = Source(item.location, item.data, item.page, item.location)
        elif existing is None and item.location and moves:
            moved = self._moved(digest, item.location)
            if moved:
                return Moved(moved, item, item.location)
        try:
            image = decode(item, self.settings, byte_sha256=digest)
            return Decoded(item, image, per_image_values(self.extractors, image))
        except InputError as exc:
            return AddFailure(item.uri, exc.message, exc.code)
        except PICTURE_FAILURES as exc:  # a library failed on this picture: the others go on
            log.debug("features of %s failed", item.uri, exc_info=True)
            failure = Unprocessable.of(item.uri, exc)
            return AddFailure(item.uri, failure.message, failure.code)

    def _unchanged(self, existing: ImageRecord, item: Source, moves: bool) -> Unchanged | Moved:
        """A local file known unchanged: skipped, and with ``moves``, when it was catalogued
        at a place where it is no more (its folder moved with the index, say), ``Moved`` to
        where it is now, so its entry is not taken for a missing file."""
        if not moves or item.location in (None, self.store.location_of(existing.id)):
            return Unchanged(item.uri)
        kept = Source(existing.source, item.data, item.page, item.location)  # its name stays
        return Moved(((existing.id, existing.source),), kept, item.location)

    def known(self, source: Source, named: ImageRecord | None) -> ImageRecord | None:
        """The record of a source, also of a local file added before under another spelling
        of its path (relative from any folder, absolute, through a symlink). ``named``: the
        record added under the source's name, if any (``store.by_source``)."""
        if source.location is None:
            return named
        # the entry of this very file first: a namesake whose file is gone may be another
        # folder's file of the same relative name (it was added under its absolute path)
        record = self.store.by_location(source.location)
        if record is None and named is not None and may_be(self.store, named, source.location):
            record = named
        for alias in path_aliases(source.uri) if record is None else ():
            found = self.store.by_source(alias)  # added before locations were recorded
            if found is not None and may_be(self.store, found, source.location):
                return found
        return record

    def _moved(self, digest: str, location: str) -> tuple[tuple[int, str], ...]:
        """The images a new local file (its bytes' ``digest``) may have been catalogued as
        before it moved: those with the same bytes added from a path where no file is any
        more, or only a symlink to this one; those of the same file name first (a renamed
        folder of identical files: each file takes its own entry), then oldest first.
        (Features an older release computed move along as they are: adding the folder
        again brings them up to date.)"""
        located = self.store.locations(self.store.by_bytes(digest))
        name = os.path.basename(location)
        found = sorted(
            (
                i
                for i, path in located.items()
                if path != location
                and _left(path, location)
                and not self._namesake_moved(path, location, digest)
            ),
            key=lambda i: (os.path.basename(located[i]) != name, i),
        )
        records = self.store.records(found) if found else {}
        return tuple(
            (i, records[i].source)
            for i in found
            if i in records and not _held(records[i].source, location)
        )

    def _namesake_moved(self, recorded: str, location: str, digest: str) -> bool:
        """Whether the file catalogued at ``recorded`` moved to a file beside ``location``
        under its old name and with the same bytes: that one takes the entry, and the file at
        ``location`` is a copy of it (made when the folder was renamed, say), a new image.
        Not when that file is this one (a symlink left under the old name) or has an entry
        of its own (the file moved in beside a copy of itself, and was renamed "(1)")."""
        name = os.path.basename(recorded)
        namesake = os.path.realpath(os.path.join(os.path.dirname(location), name))
        if (
            name == os.path.basename(location)
            or not os.path.isfile(namesake)
            or namesake == location
            or self.store.by_location(namesake) is not None
        ):
            return False
        try:
            return byte_digest(read_file(namesake, self.settings.max_bytes).data) == digest
        except InputError:
            return False  # unreadable: it cannot be the file that moved

    def _current(self, image_id: int) -> bool:
        stored = self.store.feature_versions(image_id)
        return all(stored.get(name) == spec.version for name, spec in self.specs.items())

    def _entries(
        self, images: list[Decoded], failed: list[AddFailure], pool: Executor | None = None
    ) -> list[NewImage]:
        """The catalogue entries of decoded images: their batched features (CNNs) extracted,
        half of them on ``pool`` if given. A batch that fails is retried one image at a time,
        so one bad image cannot sink the rest: an image the extractors refuse (an input error)
        joins ``failed``; any other error stops the add."""
        if not images:
            return []
        try:
            values = batched_values(self.extractors, [d.image for d in images], pool)
        except PicTraceError as exc:
            if len(images) > 1:
                return [entry for one in images for entry in self._entries([one], failed)]
            if not isinstance(exc, InputError):
                raise
            failed.append(AddFailure(images[0].source.uri, exc.message, exc.code))
            return []
        return [
            self._entry(d.source, d.image, {**d.values, **v})
            for d, v in zip(images, values, strict=True)
        ]

    def _entry(
        self, source: Source, image: DecodedImage, values: dict[str, FeatureValue]
    ) -> NewImage:
        return NewImage(
            source=source.uri,
            page=source.page,
            byte_sha256=image.byte_sha256,
            pixel_sha256=image.pixel_sha256,
            width=image.width,
            height=image.height,
            format=image.format,
            byte_size=image.byte_size,
            exif_tags=image.exif_tags,
            features=encode_all(self.specs, values),
            labels=tuple(values.get("labels", ())),
            location=source.location,
        )


def _storable(uri: str) -> bool:
    """Whether a source's name can be catalogued: a file name that is not valid UTF-8 comes
    with lone surrogates, which SQLite cannot store."""
    try:
        uri.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _left(recorded: str, location: str) -> bool:
    """Whether a file catalogued at ``recorded`` has left it for ``location``: nothing is
    there any more (a symlink pointing nowhere counts as nothing), or a symlink to it."""
    return not os.path.exists(recorded) or os.path.realpath(recorded) == location


def _held(source: str, location: str) -> bool:
    """Whether an entry's source, as given, still names another file from here (a folder
    moved with its index): that file is the entry's, not one for a copy to take."""
    return os.path.isfile(source) and os.path.realpath(source) != location


def _take(iterator: Iterator[Any], n: int) -> list[Any]:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= n:
            break
    return out
