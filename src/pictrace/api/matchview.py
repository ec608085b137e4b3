"""The match view: why a hit matches a query (metrics, verdict, the evidence drawn).

The hit is compared from its original file when that is a readable local file, otherwise from
its stored thumbnail (remote or missing originals still work). Runs on a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from pictrace.decode import byte_digest, decode
from pictrace.errors import InputError
from pictrace.index import Index
from pictrace.ingest.files import is_url, read_file
from pictrace.types import Comparison, ImageRecord, Source

METRIC_LABELS = {
    "ssim": "SSIM (structure)",
    "orb_matches": "ORB keypoint matches",
    "orb_match_ratio": "ORB match ratio",
    "colour": "Colour histogram correlation",
    "phash": "pHash distance (bits of 64)",
    "dhash": "dHash distance (bits of 64)",
    "cosine": "CNN cosine",
    "inliers": "Geometric inliers",
    "inlier_ratio": "Inlier ratio",
    "coverage": "Share of the overlap the inliers span",
    "warped_ssim": "SSIM after alignment",
    "negative": "Matched as a negative (colours inverted)",
}


@dataclass(frozen=True)
class MatchView:
    comparison: Comparison
    overlay: bytes | None  # JPEG of the evidence drawing, when it could be drawn
    hit_from: str  # "original file" or "stored thumbnail"
    record: ImageRecord | None = None


def hit_source(index: Index, record: ImageRecord) -> tuple[Source, str]:
    """An indexed image's original file when it is still there unchanged (an upload kept in
    the index folder; a local file where the catalogue located it, whatever folder the
    server runs from, else its source as given), or else its stored thumbnail."""
    local = index.kept_file(record.source)  # an upload, also in a moved index folder
    located = index.located(record.id)
    if local is None and located is not None and Path(located).is_file():
        local = Path(located)
    if local is None and not is_url(record.source) and Path(record.source).is_file():
        local = Path(record.source)
    if local is not None:
        try:
            data = read_file(str(local), index.settings.max_bytes).data
            if byte_digest(data) == record.byte_sha256:
                return Source(record.source, data), "original file"
        except InputError:
            pass  # unreadable now (or no longer the image indexed): the thumbnail stands in
    thumb = index.thumbnail(record.id)
    if thumb is None:
        index.get(record.id)  # NotFound when it was removed meanwhile
        raise InputError(f"image {record.id} has neither a readable original nor a thumbnail")
    return Source(f"thumbnail of image {record.id}", thumb), "stored thumbnail"


def match_view(index: Index, query: Source, image_id: int) -> MatchView:
    record = index.get(image_id)
    hit, hit_from = hit_source(index, record)
    view = compare_view(index, query, hit)
    comparison = view.comparison
    thumbnail = hit_from != "original file"  # never byte-equal to the query
    if thumbnail and comparison.verdict != "exact" and _same(index, query, record):
        comparison = replace(comparison, verdict="exact")
    return MatchView(comparison, view.overlay, hit_from, record)


def _same(index: Index, query: Source, record: ImageRecord) -> bool:
    """The query is the indexed image itself: the same bytes, or the same pixels."""
    if byte_digest(query.data) == record.byte_sha256:
        return True
    try:
        return decode(query, index.settings).pixel_sha256 == record.pixel_sha256
    except InputError:
        return False


def compare_view(index: Index, a: Source, b: Source) -> MatchView:
    comparison, picture = index.compare_overlay(a, b)  # named: a failure says which
    return MatchView(comparison, _jpeg(picture), "upload")


def _jpeg(picture: Image.Image | None) -> bytes | None:
    if picture is None:
        return None
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def metric_rows(comparison: Comparison) -> list[tuple[str, str, float]]:
    """(key, label, value) in a stable, readable order; without a fitted transform, no
    "SSIM after alignment" (nothing was aligned: its 0 is no measurement)."""
    fitted = comparison.evidence is not None and comparison.evidence.transform is not None
    shown = {k: v for k, v in comparison.metrics.items() if fitted or k != "warped_ssim"}
    known = [k for k in METRIC_LABELS if k in shown]
    rest = sorted(k for k in shown if k not in METRIC_LABELS)
    return [(k, METRIC_LABELS.get(k, k), float(shown[k])) for k in known + rest]
