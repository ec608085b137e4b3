"""The embedded store: one folder = ``catalogue.sqlite`` + ``vectors/*.faiss`` + a write lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from pictrace.errors import IndexCorrupt, IndexLocked, SourceUnreadable
from pictrace.features.base import (
    SEARCHABLE,
    FeatureRows,
    FeatureSpec,
    FeatureValue,
)
from pictrace.store import growing, rows, vocabulary
from pictrace.store.base import Hits, Store
from pictrace.store.catalogue import Catalogue, NewImage
from pictrace.store.following import Following
from pictrace.store.room import make_room
from pictrace.store.rows import (
    LOCAL_SLOTS,
    add_values,
    best_per_image,
    held_rows,
    not_among,
    space_ids,
    stored_rows,
)
from pictrace.store.rwlock import ReadWriteLock
from pictrace.store.saved import (
    ONE_ROW,
    Space,
    intact,
    load_space,
    read_meta,
    space_meta,
    space_paths,
    with_check,
    write_meta,
)
from pictrace.store.vectors import HashSpace, LocalSpace, VectorSpace
from pictrace.store.writelock import take_folder, tell_rebuilt, writer_active
from pictrace.threads import all_cores, quiet_native_threads
from pictrace.types import ImageRecord

CATALOGUE = "catalogue.sqlite"  # the index folder's catalogue file
log = logging.getLogger("pictrace.store")


class EmbeddedStore(Store):
    def __init__(
        self,
        folder: Path,
        specs: dict[str, FeatureSpec],
        hnsw_threshold: int,
        readonly: bool = False,
    ) -> None:
        self.folder = folder
        self.uri = str(folder)
        self.readonly = readonly
        self.specs = specs
        self.hnsw_threshold = hnsw_threshold
        self._guard = ReadWriteLock()  # searches share the spaces; writes have them alone
        self._stale: set[str] = set()  # spaces that kept removed ids (HNSW)
        self._saving = threading.Lock()  # one save at a time (searches go on beside it)
        self._growing = growing.Grower()  # flat spaces grown past the threshold made HNSW
        quiet_native_threads()
        if readonly and not (folder / CATALOGUE).is_file():
            raise SourceUnreadable(f"no PicTrace index at {folder}")
        self._lock_file = None if readonly else take_folder(folder)
        self.catalogue = Catalogue(folder / CATALOGUE, readonly=readonly)
        self._following: Following | None = None
        self._catching_up = threading.Lock()
        self.spaces: dict[str, Space] = {}
        self._dirty = False
        rebuilt = []
        # a writer at work when the spaces are read may save them before they are rebuilt
        writing = readonly and writer_active(folder)
        with self.catalogue.snapshot() if readonly else nullcontext():  # one moment's spaces
            for spec in specs.values():
                if spec.kind in SEARCHABLE:
                    self.spaces[spec.name], fresh = self._load_space(spec)
                    if not fresh and self.spaces[spec.name].size:
                        rebuilt.append(spec.name)
            if readonly:
                self._following = Following(self.catalogue, self._versions())
        if rebuilt and self.readonly:
            tell_rebuilt(folder, rebuilt, writing)

    # --- spaces: loaded from files when fresh, else rebuilt from the catalogue -------------
    def _load_space(self, spec: FeatureSpec) -> tuple[Space, bool]:
        """The space from its file when that is current (True), else rebuilt (False)."""
        index_path, meta_path = space_paths(self.folder, spec)
        try:
            saved, written = read_meta(meta_path), self._written()
            if {key: saved.get(key) for key in written} == written and intact(saved, index_path):
                space = load_space(spec, index_path)
                described = {k: v for k, v in saved.items() if k != "file"}  # checked above
                current = described == self._space_meta(spec, space, written)
                if current and self._complete(spec, space):
                    return space, True
                log.info("index %s: %s does not match its catalogue", self.folder, index_path)
        except (OSError, ValueError, IndexCorrupt):
            pass  # missing or stale: rebuild below
        self._dirty = not self.readonly
        return self._rebuild_space(spec), False

    def _written(self) -> dict[str, Any]:
        """The catalogue's write marks a saved space must carry."""
        return {"generation": self.catalogue.generation(), "stamp": self.catalogue.stamp()}

    def _complete(self, spec: FeatureSpec, space: Space, count: int | None = None) -> bool:
        """A one-row space holds as many as the catalogue has current values (``count``)."""
        if spec.kind not in ONE_ROW:
            return True
        if count is None:
            count = self.catalogue.value_count(spec.name, spec.version)
        return space.size == count

    def _space_meta(
        self, spec: FeatureSpec, space: Space, written: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        layout = vocabulary.local_layout() if spec.kind == "local" else None
        return space_meta(written or self._written(), spec, space, layout)

    def _rebuild_space(self, spec: FeatureSpec) -> Space:
        """A space of the catalogue's current values (on every core: opening or closing)."""
        stored = [r for r in self.catalogue.feature_values(spec.name) if r[1] == spec.version]
        space = self._new_space(spec, len(stored))
        damaged: list[int] = []
        with all_cores():
            for start in range(0, len(stored), 20_000):
                chunk = stored[start : start + 20_000]
                add_values(space, spec, list(rows.readable(spec, chunk, damaged)))
        remedy = rows.LEFT_OUT if self.readonly else rows.REBUILT
        rows.tell_damaged(self.folder, spec.name, damaged, remedy)
        if damaged and not self.readonly:
            self.catalogue.drop_values(spec.name, damaged)
        return space

    def _values(self, spec: FeatureSpec, ids: Sequence[int]) -> list[tuple[int, FeatureValue]]:
        """The current version's values of one feature for ``ids``, decoded."""
        damaged: list[int] = []
        found = self.catalogue.feature_values(spec.name, ids)
        values = list(rows.readable(spec, found, damaged, whole=False))
        rows.tell_damaged(self.folder, spec.name, damaged, rows.READ_AROUND)
        return values

    def _new_space(self, spec: FeatureSpec, expected: int) -> Space:
        if spec.kind == "bits":
            return HashSpace(spec.dim)
        if spec.kind == "local":
            return LocalSpace(spec.dim, vocabulary.local_centroids(), vocabulary.local_codebook())
        return VectorSpace(spec.dim, hnsw=expected >= self.hnsw_threshold)

    # --- writes -----------------------------------------------------------------------------
    def add(self, images: Sequence[NewImage]) -> list[int]:
        self._writable()
        make_room(self._guard, self.spaces, self.specs, len(images))
        with self._guard.writing():
            replaced, same = [], {}
            with self.catalogue.transaction() as db:
                for image in images:
                    old = self.catalogue.by_source(image.source)
                    if old is not None:
                        self.catalogue.delete(db, old.id)
                        replaced.append(old.id)
                        if old.byte_sha256 == image.byte_sha256:  # features computed again
                            same[image.source] = old
                ids = [self.catalogue.insert(db, image, same.get(image.source)) for image in images]
                # Decode every searchable value before committing: a bad value rolls back.
                pending = {
                    name: rows.new_values(self.specs[name], ids, images) for name in self.spaces
                }
            # only once committed: a rolled-back write must leave the spaces as they were
            self._drop_from_spaces(replaced)
            self._dirty = True
            try:
                for name, items in pending.items():
                    add_values(self.spaces[name], self.specs[name], items)
            except Exception:
                self._rebuild_all()  # the catalogue is committed: make the spaces match it
                raise
            return ids

    def relocate(self, moves: Sequence[tuple[int, str, str]]) -> None:
        self._writable()
        with self._guard.writing():
            with self.catalogue.transaction() as db:
                for image_id, source, location in moves:
                    self.catalogue.relocate(db, image_id, source, location)
            self._dirty = True  # the spaces are saved with the catalogue's new generation

    def _rebuild_all(self) -> None:
        for name in self.spaces:
            self.spaces[name] = self._rebuild_space(self.specs[name])

    def remove(self, ids: Sequence[int]) -> None:
        self._writable()
        with self._guard.writing():
            with self.catalogue.transaction() as db:
                for image_id in ids:
                    self.catalogue.delete(db, image_id)
            self._drop_from_spaces(ids)
            self._dirty = True

    def _drop_from_spaces(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        for name, space in self.spaces.items():
            if not space.remove(space_ids(self.specs[name], ids)):
                # HNSW cannot remove: stale ids are filtered against the catalogue on search,
                # and the space is rebuilt when the store closes (``flush``)
                self._stale.add(name)

    def _writable(self) -> None:
        if self.readonly:
            raise IndexLocked(f"index {self.folder} is open read-only")

    def flush(self, final: bool = False) -> None:
        """Save the spaces. One that kept removed ids (HNSW) is not saved but marked stale,
        so no open trusts it; it is rebuilt and saved when the store closes (``final``):
        rebuilding a large HNSW space after every removal would hold up every search.
        Searches go on while spaces are saved (only the rebuild needs them alone)."""
        if self.readonly or not (self._dirty or final):
            return
        if final:
            self._growing.wait()  # what it builds is what this would build again
        with self._saving, self._guard.writing() if final else self._guard.reading():
            # grown past the threshold since opened, and saved flat since (an idle save)
            grown = self._outgrown() if final else set()
            if not (self._dirty or grown):
                return
            try:
                if final:
                    for name in grown:  # a long pause once in an index's life: said
                        log.warning(
                            "index %s: building %s as HNSW once, for its %d rows (past "
                            "PICTRACE_HNSW_THRESHOLD): minutes at 200,000",
                            *(self.folder, name, self.spaces[name].size),
                        )
                        self._stale.add(name)
                    for name in self._stale:
                        self.spaces[name] = self._rebuild_space(self.specs[name])
                    self._stale.clear()
                for name, space in self.spaces.items():
                    spec = self.specs[name]
                    index_path, meta_path = space_paths(self.folder, spec)
                    if name in self._stale:
                        meta_path.unlink(missing_ok=True)
                        continue
                    space.save(index_path)
                    meta = with_check(self._space_meta(spec, space), spec, index_path)
                    write_meta(meta_path, meta)
            except BaseException:
                # a failed save is not tried again (at close, say): what it did not write is
                # stale on disk and rebuilt from the catalogue when the index is next opened
                self._dirty = False
                raise
            self._dirty = bool(self._stale)  # saved at close
        if not final:
            self._growing.start(self._grow, self._outgrown)

    def _grow(self) -> None:
        """Build the grown spaces as HNSW beside them (``growing.py``), use them, and save
        them (searches beside the writer load them)."""
        grown = False
        for name, space, whole in growing.built(
            self._guard, self.spaces, self.specs, self._outgrown
        ):
            if not whole:  # a row it was built from went meanwhile: HNSW keeps it
                self._stale.add(name)
            self.spaces[name] = space
            self._dirty = grown = True
            log.info("index %s: %s is now searched as HNSW", self.folder, name)
        if grown:  # a stop waits for this thread, so the store is still open
            self.flush()

    def _outgrown(self) -> set[str]:
        """The flat embedding spaces grown past ``hnsw_threshold`` images: rebuilt as HNSW
        when the store closes (a space is only built as HNSW when it is rebuilt; rebuilding
        one at the add that crosses the threshold would hold that add up for minutes)."""
        return {
            name
            for name, space in self.spaces.items()
            if isinstance(space, VectorSpace)
            and not space.hnsw
            and space.size >= self.hnsw_threshold  # a flat space holds only live ids
            and self.catalogue.value_count(name, self.specs[name].version) >= self.hnsw_threshold
        }

    def close(self) -> None:
        """Save the searchable copies and let go of the folder, also when saving fails (the
        catalogue has everything: a later open rebuilds what is stale)."""
        try:
            self.flush(final=True)
        finally:
            self.catalogue.close()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    # --- reads ------------------------------------------------------------------------------
    def records(self, ids: Iterable[int]) -> dict[int, ImageRecord]:
        return self.catalogue.records(ids)

    def live(self, ids: Iterable[int]) -> set[int]:
        return self.catalogue.live(ids)

    def by_source(self, source: str) -> ImageRecord | None:
        return self.catalogue.by_source(source)

    def by_location(self, path: str) -> ImageRecord | None:
        return self.catalogue.by_location(path)

    def locations(self, ids: Iterable[int]) -> dict[int, str]:
        return self.catalogue.locations(ids)

    def by_bytes(self, byte_sha256: str) -> list[int]:
        return self.catalogue.by_bytes(byte_sha256)

    def by_hash(self, byte_sha256: str, pixel_sha256: str) -> list[int]:
        return self.catalogue.by_hash(byte_sha256, pixel_sha256)

    def page(self, offset: int, limit: int) -> list[ImageRecord]:
        return self.catalogue.page(offset, limit)

    def count(self) -> int:
        return self.catalogue.count()

    def generation(self) -> int | None:
        return self.catalogue.generation()

    def identity(self) -> str | None:
        return self.catalogue.identity()

    def total_bytes(self) -> int:
        return self.catalogue.total_bytes()

    def all_ids(self) -> list[int]:
        return self.catalogue.all_ids()

    def searchable_ids(self) -> list[int]:
        ids = self.all_ids()
        return ids if self._following is None else self._following.holding(ids)

    def catch_up(self) -> None:
        """A reader's spaces given the images a writer added since (their stored features
        only) and rid of those it removed, or read again when they then hold other than
        the catalogue's current values (features computed again under the same ids)."""
        if self._following is None:
            return
        with self._catching_up:
            written = self._following.written(self.catalogue)
            if written is None:
                return
            values = {n: self._values(self.specs[n], written.added) for n in self.spaces}
            make_room(self._guard, self.spaces, self.specs, len(written.added))
            whole = False
            try:
                with self._guard.writing():
                    if written.ids is not None:
                        self._drop_from_spaces(not_among(self.spaces.values(), written.ids))
                    for name, items in values.items():
                        add_values(self.spaces[name], self.specs[name], items)
                    whole = self._holds(written.values)
                    self._following.caught_up(written)
            finally:
                if not whole:  # some added and not noted, or features computed again
                    self._read_again()

    def _holds(self, values: dict[str, int]) -> bool:
        """Whether every space of one row per image (but an HNSW space that kept removed
        ones) holds the catalogue's current values, as ``values`` counts them."""
        return all(
            self._complete(self.specs[name], self.spaces[name], count)
            for name, count in values.items()
            if name not in self._stale
        )

    def _read_again(self) -> None:
        """Rebuild a reader's spaces from the catalogue, in one read of it."""
        with self._guard.writing(), self.catalogue.snapshot():
            for name in self.spaces:
                self.spaces[name] = self._rebuild_space(self.specs[name])
            self._stale.clear()  # rebuilt: no space keeps a removed row now
            self._following = Following(self.catalogue, self._versions())

    def _versions(self) -> dict[str, int]:
        """The versions of the features whose spaces hold one row per image (the ones a
        reader counts: ``_holds``)."""
        return {n: self.specs[n].version for n in self.spaces if self.specs[n].kind in ONE_ROW}

    def consistent(self) -> AbstractContextManager[None]:
        return self.catalogue.snapshot()

    def feature_counts(self) -> dict[tuple[str, int], int]:
        return self.catalogue.feature_counts()

    def outdated(self, versions: dict[str, int]) -> list[str]:
        return self.catalogue.other_versions(versions)

    def feature_versions(self, image_id: int) -> dict[str, int]:
        return self.catalogue.feature_versions(image_id)

    def features(self, name: str, ids: Iterable[int]) -> dict[int, FeatureValue]:
        return dict(self._values(self.specs[name], list(ids)))

    def stacked(self, names: Sequence[str], ids: Iterable[int]) -> dict[str, FeatureRows]:
        """Embeddings from their spaces in memory when those hold every id (the same float16
        values widened, without reading the catalogue: a search reads its ~30 candidates'
        and, to expand the query, ~200 more), everything else from the catalogue."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        held = self._held(names, wanted)
        rest = [name for name in names if name not in held]
        return {**held, **stored_rows(self.catalogue, self.specs, rest, wanted)}

    def _held(self, names: Sequence[str], ids: list[int]) -> dict[str, FeatureRows]:
        """``held_rows`` of the embedding spaces asked for, but one that kept removed ids
        (the catalogue has only the images still there); without the spaces' lock when
        none is asked for (hashes, colour)."""
        vectors = [n for n in names if self.specs[n].kind == "vector" and n not in self._stale]
        if not vectors or not ids or min(ids) <= 0 or max(ids) >= 2**63:
            return {}
        with self._guard.reading():
            return held_rows({name: self.spaces.get(name) for name in vectors}, ids)

    def nearest(self, name: str, queries: np.ndarray, k: int, radius: int = 64) -> list[Hits]:
        spec = self.specs[name]
        with self._guard.reading():
            space = self.spaces[name]
            if isinstance(space, HashSpace):
                return space.search(queries, k, radius)
            if isinstance(space, LocalSpace):
                votes = space.votes(queries, LOCAL_SLOTS)
                ranked = sorted(votes.items(), key=lambda kv: -kv[1])[:k]
                return [[(i, float(v)) for i, v in ranked]]
            if spec.kind != "vectors":
                return space.search(queries, k)
            raw = space.search(queries, k * 4)
        return [best_per_image(hits, k) for hits in raw]

    def label_hits(self, terms: Sequence[str], limit: int) -> Hits:
        return self.catalogue.label_hits(terms, limit)
