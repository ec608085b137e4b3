"""The library facade: ``Index.open(folder)`` then add / search / compare / duplicates / remove."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from PIL import Image

from pictrace.adding import Adder
from pictrace.arguments import checked_confidence, checked_k
from pictrace.decode import decode
from pictrace.errors import (
    ConfigError,
    IndexError_,
    IndexLocked,
    InputError,
    PicTraceError,
    Unprocessable,
    needs_extra,
)
from pictrace.features.base import Extractor
from pictrace.features.pipeline import (
    PICTURE_FAILURES,
    finer_values,
    global_features,
    is_local,
    start_global,
    start_local,
)
from pictrace.features.registry import all_specs, build_extractors
from pictrace.holdings import Holdings
from pictrace.ingest.files import LeftOut, expand, is_url, not_paths, read_file
from pictrace.ingest.queries import QueryInput, load_query
from pictrace.search.calibrate import CalibrationReport, read_pairs, refit
from pictrace.search.candidates import Query
from pictrace.search.compare import compare_images, query_first, reversed_comparison
from pictrace.search.confidence import load_calibrator
from pictrace.search.engine import Searcher
from pictrace.search.keeper import checked_policy
from pictrace.search.kept import KeptDuplicates
from pictrace.search.text import text_matches
from pictrace.search.verifier import make_verifier
from pictrace.settings import Settings, load_settings
from pictrace.store.base import local_folder, open_store
from pictrace.store.mode import record_choice, settled
from pictrace.store.saved import write_whole
from pictrace.tally import Progress
from pictrace.threads import Pool
from pictrace.types import (
    AddFailure,
    AddReport,
    Box,
    Comparison,
    DuplicateGroup,
    ImageRecord,
    KeeperRule,
    SearchResult,
    Source,
)

WORKERS = 2  # threads for decoding and per-image features (and half of the CNN of an add's last
# batches), next to the CNN's own threads

log = logging.getLogger("pictrace")


class Index(Holdings):
    """A persistent image index in one folder (or behind a store URI)."""

    def __init__(self, location: str | Path, settings: Settings, readonly: bool = False) -> None:
        text = str(location)  # a folder, ~/folder or file:// URI is kept as the folder itself
        self.location = (
            text if "://" in text and not text.startswith("file:") else str(local_folder(text))
        )
        self.folder = folder = None if "://" in self.location else Path(self.location)
        self.settings = settings = settled(folder, settings, readonly)  # its local features
        self.readonly = readonly
        self.pool = Pool(WORKERS, "pictrace")
        self.extractors = build_extractors(settings)
        self.query_extractors = [e for e in self.extractors if e.for_queries]
        looks = [e.first_look() for e in self.query_extractors]
        if any(is_local(e) for e in looks):  # they compute at the same time as the others
            looks = [e if is_local(e) else e.beside_local() for e in looks]
        self.first_look = looks
        self.specs = all_specs(self.extractors)

        self.store = open_store(location, self.specs, settings.hnsw_threshold, readonly=readonly)
        record_choice(self.store, settings)
        if readonly:  # searches, lists, duplicates: an add updates them, so it is not told
            self.tell_outdated()
        self.adder = Adder(self.store, self.extractors, self.specs, self.pool, settings)
        self.searcher = Searcher(
            self.store,
            self.specs,
            load_calibrator(folder, settings.local_features),
            settings,
            verifier=make_verifier(settings, self.store, self.pool)
            if settings.verify_top
            else None,
            pool=self.pool,
        )
        self._duplicates = KeptDuplicates(self.store, self.specs, self.searcher, folder)

    @classmethod
    def open(
        cls,
        location: str | Path | None = None,
        *,
        readonly: bool = False,
        settings: Settings | None = None,
        **overrides: Any,
    ) -> Index:
        """Open (creating if missing) the index at ``location`` or ``$PICTRACE_INDEX``."""
        settings = settings or load_settings(**overrides)
        target = location if location is not None else settings.index
        if target is None:
            raise ConfigError(
                "no index given: pass a folder (the CLI's --index) or set PICTRACE_INDEX"
            )
        return cls(target, settings, readonly=readonly)

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:  # the error that ended the block is the one to report (a full disk, say)
            self.close()
        except PicTraceError as late:
            log.warning("closing the index after an error: %s", late.message)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        try:
            self.store.close()
        finally:
            self._duplicates.close()

    # --- adding -----------------------------------------------------------------------------
    def add(
        self, items: str | Path | Iterable[str | Path], progress: Progress | None = None
    ) -> AddReport:
        """Add files, folders (recursively) and URLs (a web page's images: it is crawled);
        unchanged files are skipped. ``items``: one of them, or several."""
        self._writable()
        if isinstance(items, str | os.PathLike):
            items = [items]  # one path (a string is not a list of one-letter paths)
        elif isinstance(items, bytes | bytearray | memoryview | Image.Image | Source):
            raise not_paths(type(items).__name__)  # nor a list of byte values
        left_out = LeftOut()
        paths = list(expand(items, left_out))
        urls = [p for p in paths if is_url(p)]
        files = [p for p in paths if not is_url(p)]
        report = self.adder.add((self._read(p) for p in files), len(files), progress, ahead=2)
        report = replace(
            report,
            left_out=tuple(left_out.not_images.items()),
            hidden=tuple(left_out.hidden.items()),
            linked=tuple(left_out.linked.items()),
        )
        if urls:
            with needs_extra("web"):
                from pictrace.ingest.web import fetch_sources

            fetched = self.adder.add(fetch_sources(urls, self.settings), len(urls), progress)
            report = report.merged(fetched)
        return report

    def add_sources(
        self,
        sources: Iterable[Source | AddFailure],
        total: int = 0,
        progress: Progress | None = None,
    ) -> AddReport:
        """Add already-loaded Sources (downloads, crawls, uploads)."""
        self._writable()
        return self.adder.add(iter(sources), total, progress)

    def _read(self, path: str) -> Source | AddFailure:
        try:
            return read_file(path, self.settings.max_bytes)
        except InputError as exc:
            return AddFailure(path, exc.message, exc.code)

    def _writable(self, action: str = "add images") -> None:
        """Refuse to change the index before any work (to add: not when the first batch is
        stored)."""
        if self.readonly:
            raise IndexLocked(
                f"index {self.location} is open read-only: open it for writing to {action}"
            )

    # --- searching --------------------------------------------------------------------------
    def search(self, query: QueryInput, k: int = 10, min_confidence: float = 0.0) -> SearchResult:
        """Rank the index against one query image (path, URL, bytes or PIL image)."""
        k, min_confidence = checked_k(k), checked_confidence(min_confidence)
        started = time.perf_counter()
        self.store.catch_up()  # what a writer added since this reader opened
        prepared = self.start_query(query, max(k, self.settings.candidates))
        matches = self.searcher.search(prepared, k, min_confidence, refine=self._refine)
        elapsed = (time.perf_counter() - started) * 1000.0
        labels = tuple(label for label, _ in prepared.features.get("labels", ()))
        return SearchResult(prepared.label, elapsed, matches, labels)

    def search_many(
        self, queries: Iterable[QueryInput], k: int = 10, min_confidence: float = 0.0
    ) -> Iterator[SearchResult | PicTraceError]:
        for query in queries:
            try:
                yield self.search(query, k, min_confidence)
            except PicTraceError as exc:
                exc.query = str(query)
                yield exc
            except PICTURE_FAILURES as exc:  # a library failed on this query: the others go on
                log.debug("search for %s failed", query, exc_info=True)
                failure = Unprocessable.of(str(query), exc)
                failure.query = str(query)
                yield failure

    def search_text(self, text: str, k: int = 10) -> SearchResult:
        """Images whose predicted ImageNet labels match every word of ``text``."""
        k = checked_k(k)
        if not isinstance(text, str):
            raise InputError(f"the text must be a string of words, not {type(text).__name__}")
        started = time.perf_counter()
        terms = [t for t in text.lower().replace(",", " ").split() if t]
        if not terms:
            raise InputError("the text is empty: give words of ImageNet labels, e.g. 'tabby cat'")
        hits = self.store.label_hits(terms, k)
        matches = text_matches(hits, self.store.records(i for i, _ in hits))
        return SearchResult(text, (time.perf_counter() - started) * 1000.0, matches)

    def _refine(
        self, query: Query, region: Box | None = None, enlarge: bool = True
    ) -> Query | None:
        """The query with its extractors' finer values (Searcher.search's second look; of
        ``region`` only, its zoomed look; with ``enlarge``, a picture too small for a finer
        look is looked at enlarged), or None when no extractor has any."""
        finer = finer_values(self.first_look, query.image, region, enlarge)
        return Query(query.label, query.image, {**query.features, **finer}) if finer else None

    def prepare_query(self, query: QueryInput) -> Query:
        """A query with all its features, as a search's first look computes them."""
        return self._started(query, self.first_look, look=False).completed()

    def prepare_hit(self, image: QueryInput) -> Query:
        """An image with the features an indexed one has (all its keypoints; no thumbnail):
        the other side of compare and calibrate, as search would meet it in the index."""
        return self._started(image, self.query_extractors, look=False).completed()

    def start_query(self, query: QueryInput, depth: int = 0) -> Query:
        """A search's query: decoded, with the first-look extractors (fewer keypoints than an
        indexed image; ``_refine`` gives the full set at a finer scale when nothing is found),
        its local features still computing when this returns (Searcher.search finds global
        candidates meanwhile). The search's local look (votes, then verifying the best-voted
        candidates) is chained to the keypoints, so it starts on their thread as soon as they
        are ready, while the CNN may still be running here; so are the exact-duplicate and
        hash-space lookups (``depth`` neighbours, at least ``settings.candidates``)."""
        return self._started(query, self.first_look, look=True, depth=depth)

    def _started(
        self, query: QueryInput, extractors: list[Extractor], look: bool, depth: int = 0
    ) -> Query:
        source = self.load_query(query)
        # The pixel digest goes to the pool first: the local look and the hashed lookup read
        # it on pool threads, and the pool's order of tasks is what keeps such a thread from
        # waiting on a digest queued behind it (tests/search/test_pipelined.py).
        image = decode(source, self.settings, digests=self.pool)
        pending = start_local(extractors, image, self.pool)
        early = Query(source.uri, image, {}, pending)
        ahead = self.searcher.look_ahead(early) if look and pending is not None else None
        started = start_global(extractors, image, self.pool)
        depth = max(depth, self.settings.candidates)
        hashed = self.searcher.hashed_ahead(image, started, depth) if look else None
        ready = global_features(extractors, image, started)
        return Query(source.uri, image, ready, pending, ahead, hashed)

    def load_query(self, query: QueryInput) -> Source:
        return load_query(query, self.settings)

    # --- comparing and duplicates -----------------------------------------------------------
    def compare(self, a: QueryInput, b: QueryInput) -> Comparison:
        """Every metric, the similarity and the verdict of a pair; the same either way round."""
        return self._compared(a, b)[0]

    def compare_overlay(
        self, a: QueryInput, b: QueryInput
    ) -> tuple[Comparison, Image.Image | None]:
        """compare, plus the side-by-side evidence picture when geometry verified."""
        from pictrace.search.overlay import overlay_of

        comparison, qa, qb = self._compared(a, b)
        return comparison, overlay_of(comparison.evidence, qa.image, qb.image)

    def _compared(self, a: QueryInput, b: QueryInput) -> tuple[Comparison, Query, Query]:
        """The comparison of a with b and both prepared. The smaller picture is the query and
        the larger the indexed hit, whichever comes first (search, too, usually meets a copy
        as the smaller side: a crop, a thumbnail), so compare(a, b) and compare(b, a) agree."""
        sa, sb = self.load_query(a), self.load_query(b)
        if query_first(sb, sa):
            comparison, qb, ha = self._compared_as(sb, sa)
            return reversed_comparison(comparison), ha, qb
        return self._compared_as(sa, sb)

    def _compared_as(self, small: Source, large: Source) -> tuple[Comparison, Query, Query]:
        """``small`` as the query of ``large``; when that finds no copy, also ``large`` as
        the query of ``small``, as a search with the large picture would meet it: its zoomed
        third look finds a picture shown small inside a frame (a story, a screenshot)."""
        query, hit = self.prepare_query(small), self.prepare_hit(large)
        comparison = compare_images(query, hit, self.searcher, self._refine)
        if comparison.verdict in ("copy", "exact"):
            return comparison, query, hit
        framed, inside = self.prepare_query(large), self.prepare_hit(small)
        other = compare_images(framed, inside, self.searcher, self._refine)
        if other.verdict == "copy" and other.copy_confidence > comparison.copy_confidence:
            return reversed_comparison(other), query, hit
        return comparison, query, hit

    def calibrate(self, pairs_csv: Path | str) -> CalibrationReport:
        """Refit copy_confidence on labelled pairs; saved as ``<index>/calibration.json``."""
        self._writable("calibrate it")
        pairs = read_pairs(Path(pairs_csv))
        prepare = (self.prepare_query, self.prepare_hit)
        calibrator, rows, labels, skipped = refit(
            pairs, prepare, self.searcher, str(pairs_csv), self.load_query
        )
        if self.folder is not None:
            write_whole(self.folder / "calibration.json", calibrator.to_json())
        self.searcher.calibrator = calibrator
        return CalibrationReport.of(calibrator, rows, labels, skipped, self.settings.copy_threshold)

    def reset_calibration(self) -> None:
        """Go back to the shipped calibration (``calibrate`` undone)."""
        self._writable("reset its calibration")
        if self.folder is not None:
            (self.folder / "calibration.json").unlink(missing_ok=True)
        self.searcher.calibrator = load_calibrator(None, self.settings.local_features)

    def duplicates(
        self,
        policy: Sequence[KeeperRule] | None = None,
        progress: Progress | None = None,
        fresh: bool = False,
    ) -> list[DuplicateGroup]:
        """Groups of copies, each ordered by the keeper ``policy`` (default:
        ``settings.keeper_policy``), its first member the suggested keeper. InputError for
        an unknown rule, before any work. ``progress(done, total)`` counts searched images.

        Only images no earlier run searched are searched: what each image's search found is
        kept in the index folder (``copies.sqlite``) while the calibration, the search
        settings and the features stay the same. ``fresh`` searches every image again. The
        groups themselves are kept while the catalogue (written by any process) stays the
        same: asking again, with any policy, only orders them again."""
        chosen = checked_policy(self.settings.keeper_policy if policy is None else policy)
        return self._duplicates.groups(chosen, progress, fresh)

    def known_duplicates(
        self, policy: Sequence[KeeperRule] | None = None
    ) -> list[DuplicateGroup] | None:
        """The groups ``duplicates`` would answer if it can answer them without searching
        (nothing changed since they were found), else None: a server answers at once when it
        can and runs the search as a job when it cannot."""
        chosen = checked_policy(self.settings.keeper_policy if policy is None else policy)
        return self._duplicates.known(chosen)

    def duplicates_basis(self) -> object:
        """What the groups of ``duplicates`` follow from: groups found under an equal basis
        are still the groups. None when the store cannot tell (it has no generation)."""
        return self._duplicates.basis()

    # --- removing (reads of what the index holds: Holdings) ---------------------------------
    def remove(self, id_or_source: str | int) -> ImageRecord:
        """Remove an image; a file kept for it in the index folder (an upload) goes too."""
        record = self.resolve(id_or_source)
        self._remove([record])
        return record

    def remove_missing(self) -> tuple[ImageRecord, ...]:
        """Remove every image ``missing`` lists; the removed ones."""
        records = self.missing()
        self._remove(records)
        return records

    def _remove(self, records: Sequence[ImageRecord]) -> None:
        located = self.store.locations(r.id for r in records)  # a user's file has one
        uploads = [r for r in records if r.id not in located and not is_url(r.source)]
        self.store.remove([r.id for r in records])
        for record in uploads:
            self.discard_kept(Path(record.source), record.byte_sha256)
        try:
            self.store.flush()
        except IndexError_ as exc:  # removed all the same: the catalogue says so
            log.warning("%s; searchable copies are rebuilt from the catalogue", exc.message)

    def flush(self, final: bool = False) -> None:
        """Save the searchable copies now (``final``: as closing would, rebuilding a space
        that kept removed images or grew past the HNSW threshold)."""
        self.store.flush(final=final)
