"""What one add call did, as its batches are prepared and stored: the images it added,
skipped, moved, replaced or failed on, in the order given (``AddReport``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

from pictrace.errors import IndexError_
from pictrace.features.base import FeatureValue
from pictrace.types import AddFailure, AddReport, DecodedImage, Source


@dataclass(frozen=True, eq=False)
class Decoded:
    """A new picture of an add, decoded, with its per-image features (the batched ones, the
    CNNs', follow for a whole batch)."""

    source: Source
    image: DecodedImage
    values: dict[str, FeatureValue]


@dataclass(frozen=True)
class Unchanged:
    """A file the index holds as it is: skipped."""

    uri: str


@dataclass(frozen=True)
class Stored:
    """What one batch's write did: new ids, (new id, previous id) of changed files, and ids
    whose features were computed again."""

    added: list[int]
    replaced: list[tuple[int, int]]
    updated: list[int]


@dataclass(frozen=True)
class Moved:
    """A local file already catalogued under a path where it is no longer: the same bytes,
    moved (a folder renamed, say). Its entry is pointed at the new path, nothing recomputed."""

    candidates: tuple[tuple[int, str], ...]  # (id, source) it may be, best first (``Adder._moved``)
    source: Source
    location: str
    image_id: int = 0  # the one it is taken as (``Tally.new_images``)


Prepared = AddFailure | Unchanged | Moved | Decoded
Progress = Callable[[int, int], None]


@dataclass
class Tally:
    """What one add call did so far; a source given twice is added once (the first time)."""

    total: int
    progress: Progress | None
    done: int = 0
    added: list[int] = field(default_factory=list)
    replaced: list[tuple[int, int]] = field(default_factory=list)  # (new id, previous id)
    skipped: list[str] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)  # features computed again, same ids
    claimed: set[int] = field(default_factory=set)  # images a moved file was matched with
    # sources of the images decoded; a changed file's is the one it replaces, so a moved
    # file met later is not that image
    sources: set[str] = field(default_factory=set)
    failed: list[AddFailure] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def new_images(
        self, prepared: Iterable[Prepared]
    ) -> tuple[list[Decoded], list[Moved], list[Source]]:
        """A batch's new images; its moved files (counted as skipped: unchanged); and the
        further copies of a file that moved, in this add's order (the first copy takes the
        image: the others are to be prepared again as new)."""
        images, moves, again = [], [], []
        for item in prepared:
            if isinstance(item, AddFailure):
                self.failed.append(item)
            elif isinstance(item, Moved) and identity(item.source) in self.seen:
                self.skipped.append(item.source.uri)  # given twice
            elif isinstance(item, Moved):
                free = [
                    i
                    for i, source in item.candidates
                    if i not in self.claimed and source not in self.sources
                ]
                if not free:
                    again.append(item.source)
                    continue
                self.seen.add(identity(item.source))
                self.claimed.add(free[0])
                self.skipped.append(item.source.uri)
                self.moved.append(free[0])
                moves.append(Moved(item.candidates, item.source, item.location, free[0]))
            elif isinstance(item, Unchanged):
                self.skipped.append(item.uri)
            elif identity(item.source) in self.seen:
                self.skipped.append(item.source.uri)  # given twice
            else:
                self.seen.add(identity(item.source))
                self.sources.add(item.source.uri)
                images.append(item)
        return images, moves, again

    def stored(self, write: Future[Stored] | None, size: int) -> None:
        """A batch of ``size`` items is done: its write's ids (raising its error)."""
        self.done += size
        if write is not None:
            stored = write.result()
            self.added.extend(stored.added)
            self.replaced.extend(stored.replaced)
            self.updated.extend(stored.updated)
        if self.progress:
            self.progress(self.done, max(self.total, self.done))

    def report(self) -> AddReport:
        return AddReport(
            tuple(self.added),
            tuple(self.skipped),
            tuple(self.failed),
            tuple(new for new, _ in self.replaced),
            tuple(old for _, old in self.replaced),
            tuple(self.moved),
            updated=tuple(self.updated),
        )


def stored_before(exc: IndexError_, count: int) -> IndexError_:
    """``exc`` (a batch could not be stored) saying how many images were stored before it."""
    return type(exc)(
        f"{exc.message}; {count} images of this add were stored before it "
        "(adding the same sources again goes on from there)"
    )


def identity(source: Source) -> str:
    """What makes two sources of one add call the same: the file, or else the uri."""
    return source.location or source.uri
