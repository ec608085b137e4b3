"""Text search over predicted ImageNet labels (``search --text "tabby cat"``)."""

from __future__ import annotations

from collections.abc import Mapping

from pictrace.types import ImageRecord, Match


def text_matches(
    hits: list[tuple[int, float]], records: Mapping[int, ImageRecord]
) -> tuple[Match, ...]:
    """Label hits as similar-tier matches; ``similarity`` is the labels' probability."""
    return tuple(
        Match(
            id=r.id,
            source=r.source,
            tier="similar",
            copy_confidence=0.0,
            similarity=min(1.0, score),
            width=r.width,
            height=r.height,
            format=r.format,
            byte_size=r.byte_size,
            page=r.page,
            labels=r.labels,
            signals={"label_probability": score},
        )
        for image_id, score in hits
        if (r := records.get(image_id)) is not None
    )
