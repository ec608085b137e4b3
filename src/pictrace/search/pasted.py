"""Is another picture pasted over one of two fitted pictures? Then they are still copies.

A photo pasted over the middle of a copy (a news logo's inset, another photo in a box)
leaves the copy's inliers all around an unmatched middle: the middle judge (``middle``)
takes that for different items on one floor and the fit loses its weight. What tells a
paste from a different item is its edge: a pasted picture is a block with a straight edge
at every side inside the canvas, sharp on its side and missing on the other, whose picture
carries on under it (detail across the line, not a flat backdrop); an item on a floor has no
straight edge along its bounding box, and two photos in one window share the window's edge.

``pasted_over`` judges the aligned colour thumbnails (``inset``'s canvas): the block where
they differ (``inset.free_block``: holding hardly any inlier; less than ``LARGEST`` of
the overlap), then at each of its sides inside the canvas, within ``WINDOW`` px, the line
one side steps across most (``EDGE`` levels at least, on average along the side), where the
other side steps ``UNSEEN`` as much at most, no more than ``RISE`` over its typical step
nearby (no edge of its own there), and has detail (``FLAT``) either side of it.
Either side may hold the paste: a search with the original finds the pasted copy too.

A larger block is not judged: items centred on one backdrop, one larger than the other,
differ exactly so, and a marketplace's photos are shot that way. A held-out trial's
backdrops called 18 of 50 such pairs copies with blocks up to 0.6 of the overlap, 2 (as
before this judge) up to 0.3, 8 up to 0.4; its pastes found rose from 91 to 104 of 120, 94
up to 0.3. Measured in ``BENCHMARKS.md`` ("a picture pasted over a copy").
"""

from __future__ import annotations

import numpy as np

from pictrace.search.inset import PixelBox, box_area, free_block, line_step

LARGEST = 0.3  # of the overlap: a larger block may be an item of its own on a shared backdrop
WINDOW = 6  # px either side of the block's side in which its edge is looked for
EDGE = 24.0  # levels (largest channel) a pasted picture's edge steps on average
UNSEEN = 0.5  # of that step, the most the other side may step at the same line,
RISE = 12.0  # and levels it may step there more than at its typical line nearby (an edge)
FLAT = 4.0  # levels of standard deviation under which the picture beside the line is flat
SIDES = 2  # a paste in a corner has two sides inside the canvas (a band's two are opposite)


def pasted_over(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, inliers: np.ndarray
) -> bool:
    """Whether the two aligned colour thumbnails (``inset``'s canvas; ``inside``: where the
    hit lies on it, ``inliers``: the fit's query points on it) differ in one block that is a
    picture pasted over one of them."""
    return pasted_in(
        query_part, hit_part, inside, free_block(query_part, hit_part, inside, inliers)
    )


def pasted_in(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, block: PixelBox | None
) -> bool:
    """``pasted_over`` for the block found (``inset.free_block``)."""
    if block is None or box_area(block) >= LARGEST * np.count_nonzero(inside):
        return False
    hit_part = np.where(inside[:, :, None], hit_part, query_part)
    query, hit = query_part.astype(np.int16), hit_part.astype(np.int16)
    return _edges_in(query, hit, block) or _edges_in(hit, query, block)


def _edges_in(pasted: np.ndarray, under: np.ndarray, block: PixelBox) -> bool:
    """Whether ``pasted`` (int16 pictures, rows x columns x channels) has a picture's edge at
    every side of ``block`` inside the canvas, SIDES at least and not only two opposite ones,
    where ``under`` carries on."""
    x0, y0, x1, y1 = block
    height, width = pasted.shape[:2]
    across = (pasted.transpose(1, 0, 2), under.transpose(1, 0, 2))  # lines are its columns
    sides = [
        (pasted, under, x0, y0, y1, width),
        (pasted, under, x1, y0, y1, width),
        (*across, y0, x0, x1, height),
        (*across, y1, x0, x1, height),
    ]
    inner = [i for i, side in enumerate(sides) if 1 < side[2] < side[5] - 1]
    if len(inner) < SIDES or inner in ([0, 1], [2, 3]):
        return False  # a band across the picture is a caption's (``inset.laid_over``)
    return all(_edge_only_in(*sides[i]) for i in inner)


def _edge_only_in(
    pasted: np.ndarray, under: np.ndarray, at: int, start: int, stop: int, size: int
) -> bool:
    """Whether ``pasted`` steps by EDGE on average across a line (a column) within WINDOW of
    ``at``, rows ``start`` to ``stop``, where ``under`` has no edge (UNSEEN, RISE) and has
    detail on both sides."""
    pasted, under = pasted[start:stop], under[start:stop]
    lines = range(max(1, at - WINDOW), min(size - 1, at + WINDOW) + 1)
    steps = [line_step(pasted, line) for line in lines]
    best = int(np.argmax(steps))
    line = lines[best]
    below = [line_step(under, other) for other in lines]
    if steps[best] < EDGE or below[best] > min(UNSEEN * steps[best], np.median(below) + RISE):
        return False
    beside = under[:, max(0, line - 3) : line + 3]
    return beside.size > 0 and float(beside.std(axis=(0, 1)).max()) >= FLAT
