"""Typed values that cross module boundaries (frozen dataclasses, no dicts of dicts)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

Tier = Literal["exact", "copy", "similar"]
Verdict = Literal["exact", "copy", "similar", "different"]
SIMILAR_AT = 0.5  # similarity from which a pair that is not a copy is "similar", else "different"
# How a duplicate group chooses its keeper: rules in order (search/keeper.py; its "original"
# rule counts the pairs search/edited.py judged).
KeeperRule = Literal["original", "resolution", "lossless", "exif", "bytes", "oldest", "newest"]
# what put a keeper first: a rule, or before every rule "present" (the others' files are gone)
# or "resave" (the others are lossless files of its very pixels: a JPEG saved again as PNG, a
# PNG's pixels saved as a bigger Netpbm file)
KeeperReason = KeeperRule | Literal["present", "resave"]
KEEPER_POLICY: tuple[KeeperRule, ...] = ("original", "resolution", "lossless", "exif", "bytes")


def rule_names(values: str | Iterable[str]) -> list[str]:
    """Keeper rule names as given: one string or several, each possibly comma-separated,
    blanks dropped (a form's empty select, "a, b," from a command line)."""
    given = [values] if isinstance(values, str) else list(values)
    return [name.strip() for value in given for name in str(value).split(",") if name.strip()]


def contrary_rules(rules: Iterable[str]) -> str | None:
    """Why a keeper policy's rules cannot all decide, or None: "oldest" orders every pair, so
    a "newest" with it would never decide (nor the reverse)."""
    both = {"oldest", "newest"} <= set(rules)
    return "a keeper policy takes 'oldest' or 'newest', not both" if both else None


TIER_ORDER: dict[str, int] = {"exact": 0, "copy": 1, "similar": 2}
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the image it lies in


@dataclass(frozen=True)
class Source:
    """Raw bytes of one image and where they came from (``uri`` is kept exactly as given)."""

    uri: str
    data: bytes
    page: str | None = None
    location: str | None = None  # a local file's resolved absolute path


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An RGB, EXIF-oriented picture with its identity.

    ``pixels`` is the working copy (long side capped by settings); ``width``/``height`` are the
    full decoded size. ``pixel_sha256`` is computed on the full-size RGB pixels, so a lossless
    re-save of the same picture has the same value; ``pixel_digest`` holds it, or the future
    of it while it is still being computed on a pool (``decode(..., digests=pool)``).
    """

    pixels: np.ndarray
    width: int
    height: int
    format: str
    byte_sha256: str
    pixel_digest: str | Future[str]
    byte_size: int
    exif_tags: int = 0
    # Smaller views of ``pixels`` that several extractors share, computed once on first use
    # (pictrace.features.views); not part of the picture's identity.
    views: dict[str, np.ndarray] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    lock: threading.RLock = field(
        default_factory=threading.RLock, init=False, compare=False, repr=False
    )

    @property
    def pixel_sha256(self) -> str:
        """The pixel digest; waits for the pool computing it (re-raising its error)."""
        digest = self.pixel_digest
        return digest if isinstance(digest, str) else digest.result()


@dataclass(frozen=True)
class Evidence:
    """Why a hit is called a copy: the geometric verification of query against hit."""

    inliers: int
    inlier_ratio: float
    warped_ssim: float | None  # None from search, which skips it (compare computes it)
    transform: tuple[tuple[float, ...], ...] | None  # 3x3 homography mapping query -> hit
    query_box_in_hit: Box | None
    hit_box_in_query: Box | None
    matches: tuple[tuple[float, float, float, float], ...] = ()  # (qx, qy, hx, hy) inliers
    # The area the inliers span over the area the hit's keypoints span in the overlap (0..1):
    # low when the match is confined to a small part, such as a shared watermark.
    coverage: float | None = None
    negative: bool = False  # the query matched as the hit's negative (colours inverted)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Match:
    """One search hit."""

    id: int
    source: str
    tier: Tier
    copy_confidence: float
    similarity: float
    width: int
    height: int
    format: str
    byte_size: int
    page: str | None = None
    labels: tuple[str, ...] = ()
    signals: Mapping[str, float] = field(default_factory=dict)
    evidence: Evidence | None = None

    @classmethod
    def of(
        cls,
        record: ImageRecord,
        tier: Tier,
        copy_confidence: float,
        similarity: float,
        signals: Mapping[str, float],
        evidence: Evidence | None = None,
    ) -> Match:
        """A hit on a catalogued image, with how it matched."""
        return cls(
            id=record.id,
            source=record.source,
            tier=tier,
            copy_confidence=copy_confidence,
            similarity=similarity,
            width=record.width,
            height=record.height,
            format=record.format,
            byte_size=record.byte_size,
            page=record.page,
            labels=record.labels,
            signals=dict(signals),
            evidence=evidence,
        )

    def as_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "source": self.source,
            "tier": self.tier,
            "copy_confidence": round(self.copy_confidence, 6),
            "similarity": round(self.similarity, 6),
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "byte_size": self.byte_size,
            "page": self.page,
            "labels": list(self.labels),
            "signals": {k: round(float(v), 6) for k, v in self.signals.items()},
        }
        data["evidence"] = self.evidence.as_dict() if self.evidence else None
        return data


@dataclass(frozen=True)
class SearchResult:
    query: str
    elapsed_ms: float
    matches: tuple[Match, ...]
    query_labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "results": [m.as_dict() for m in self.matches],
            "query_labels": list(self.query_labels),
        }


@dataclass(frozen=True)
class ImageRecord:
    """One catalogued image (what the store knows without the feature vectors)."""

    id: int
    source: str
    page: str | None
    byte_sha256: str
    pixel_sha256: str
    width: int
    height: int
    format: str
    byte_size: int
    exif_tags: int
    added_at: float
    labels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


@dataclass(frozen=True)
class AddFailure:
    source: str
    reason: str
    code: str


@dataclass(frozen=True)
class AddReport:
    added: tuple[int, ...] = ()
    skipped: tuple[str, ...] = ()
    failed: tuple[AddFailure, ...] = ()
    replaced: tuple[int, ...] = ()  # of ``added``: new versions of sources changed since
    previous: tuple[int, ...] = ()  # the ids those sources had, in the same order
    # of ``skipped``: images whose local file moved (the same bytes under a new path, the old
    # path gone), now catalogued under the new one
    moved: tuple[int, ...] = ()
    # (folder as named, files under it left out: not images by name, such as .txt or .mov)
    left_out: tuple[tuple[str, int], ...] = ()
    # unchanged files whose features an older release (or another user model) computed,
    # computed again under the same ids
    updated: tuple[int, ...] = ()
    # (folder as named, hidden images and folders under it: names starting with a dot)
    hidden: tuple[tuple[str, int], ...] = ()
    # (folder as named, symlinked folders under it: a walk does not follow them)
    linked: tuple[tuple[str, int], ...] = ()

    def merged(self, other: AddReport) -> AddReport:
        return AddReport(
            self.added + other.added,
            self.skipped + other.skipped,
            self.failed + other.failed,
            self.replaced + other.replaced,
            self.previous + other.previous,
            self.moved + other.moved,
            self.left_out + other.left_out,
            self.updated + other.updated,
            self.hidden + other.hidden,
            self.linked + other.linked,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "skipped_unchanged": len(self.skipped),
            "failed": [asdict(f) for f in self.failed],
            "added_ids": list(self.added),
            "replaced_ids": list(self.replaced),
            "moved_ids": list(self.moved),
            "updated": len(self.updated),
            "updated_ids": list(self.updated),
            "left_out": dict(self.left_out),
            "left_out_hidden": dict(self.hidden),
            "left_out_symlinked": dict(self.linked),
            "replaced": [
                {"id": new, "previous_id": old}
                for new, old in zip(self.replaced, self.previous, strict=True)
            ],
        }


@dataclass(frozen=True)
class DuplicateGroup:
    members: tuple[ImageRecord, ...]
    keeper: int  # id of the suggested keeper
    # id -> how many verified pairs judged that member made from another one (a copy with
    # padding around the picture: a border, a caption band, the corners of a rotated copy, a
    # letterboxed thumbnail); members never judged so are left out
    edited: Mapping[int, int] = field(default_factory=dict, hash=False)
    pairs: tuple[tuple[int, int], ...] = ()  # the copy pairs that joined the group
    # the keeper rule that put the keeper ahead of the next member, or when that is the same
    # file again, ahead of the rest (None when none did: the most pixels, then the lowest id)
    reason: KeeperReason | None = None
    # members added from a local file that is no longer there (moved or deleted since): never
    # the keeper while another member's file is still there
    missing: frozenset[int] = frozenset()

    def matched_with(self) -> dict[int, int]:
        """Per member but the keeper: the member it is a copy of on its shortest chain of
        pairs to the keeper (the keeper itself for a direct copy of it). A member reached
        only through another (a picture pasted into a composite with the keeper, say) may
        not be a copy of the keeper at all."""
        ids = {m.id for m in self.members}
        neighbours: dict[int, list[int]] = {}
        for a, b in sorted(self.pairs):
            if a in ids and b in ids:
                neighbours.setdefault(a, []).append(b)
                neighbours.setdefault(b, []).append(a)
        via, queue = {self.keeper: self.keeper}, deque([self.keeper])
        while queue:
            here = queue.popleft()
            for other in neighbours.get(here, []):
                if other not in via:
                    via[other] = here
                    queue.append(other)
        via.pop(self.keeper)
        return via

    def as_dict(self) -> dict[str, Any]:
        via = self.matched_with()
        return {
            "keeper": self.keeper,
            "reason": self.reason,
            "members": [
                m.as_dict()
                | {
                    "edited": self.edited.get(m.id, 0),
                    "matched_with": via.get(m.id),
                    "missing": m.id in self.missing,
                }
                for m in self.members
            ],
        }


@dataclass(frozen=True)
class Comparison:
    """Every metric of a pairwise compare, the overall similarity and the verdict."""

    metrics: Mapping[str, float]
    similarity: float
    copy_confidence: float
    verdict: Verdict
    evidence: Evidence | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "metrics": {k: round(float(v), 6) for k, v in self.metrics.items()},
            "similarity": round(self.similarity, 6),
            "copy_confidence": round(self.copy_confidence, 6),
            "verdict": self.verdict,
            "evidence": self.evidence.as_dict() if self.evidence else None,
        }


@dataclass(frozen=True)
class Stats:
    images: int
    bytes_indexed: int
    extractors: Mapping[str, int]  # images with a value from the current extractor version
    index_dir: str
    store: str
    outdated: Mapping[str, int] = field(default_factory=dict)  # images lacking a current value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
