"""Text search over predicted ImageNet labels (``search --text "tabby cat"``)."""

from __future__ import annotations

from collections.abc import Mapping

from pictrace.types import ImageRecord, Match


def text_matches(
    hits: list[tuple[int, float]], records: Mapping[int, ImageRecord]
) -> tuple[Match, ...]:
    """Label hits as similar-tier matches; ``similarity`` is the labels' probability."""
    return tuple(
        Match.of(r, "similar", 0.0, min(1.0, score), {"label_probability": score})
        for image_id, score in hits
        if (r := records.get(image_id)) is not None
    )
