"""A keeper the file rules chose, checked against the smaller members it was never paired with.

``duplicates`` verifies each image against its ``DEPTH`` best candidates only. In a large
group of edits of a flat picture (a calm lake: sky and water, few keypoints), a copy with a
border and its original may each miss the other among their candidates, so no verified pair
judges the border an edit, and the file rules keep the larger file: the bordered copy (a new
user's 13 edits of one photo; with 3 of them the pair was verified and the original kept).
So when a keeper has more pixels than members it has no pair with, it is verified against
them (``CHECKS`` at most, the largest first) and the pairs that fit are judged as
``edited.edited_member`` judges any verified pair; a new keeper is checked the same way,
``ROUNDS`` times at most. The checks are not kept between runs: they cost a few
milliseconds each, and only groups whose keeper is larger than an unpaired member pay them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from pictrace.search.edited import Link, Thumbnail, edited_counts, pixels
from pictrace.search.keeper import apply_policy
from pictrace.types import DuplicateGroup, KeeperRule

CHECKS = 6  # unpaired smaller members a keeper is verified against, at most
ROUNDS = 3  # keepers checked in turn, at most

PairLink = Callable[[int, int], Link | None]  # a verified copy pair's link, or None


def checked_keeper(
    group: DuplicateGroup,
    policy: Sequence[KeeperRule],
    verify: PairLink,
    thumbnail: Thumbnail,
) -> DuplicateGroup:
    """``group`` with its keeper verified against the smaller members it has no pair with,
    and ordered again by ``policy`` when those pairs judged a member edited (see above)."""
    tried: set[int] = set()
    for _ in range(ROUNDS):
        keeper = group.members[0]
        paired = {b if a == keeper.id else a for a, b in group.pairs if keeper.id in (a, b)}
        smaller = [
            m.id
            for m in group.members[1:]
            if m.id not in paired and pixels(m) < pixels(keeper) and m.id not in tried
        ][:CHECKS]
        tried.update(smaller)
        links = [link for other in smaller if (link := verify(keeper.id, other)) is not None]
        if not links:
            return group
        records = {m.id: m for m in group.members}
        judged = edited_counts(records, links, thumbnail)
        if not judged:
            return group
        edited = {i: group.edited.get(i, 0) + judged.get(i, 0) for i in {*group.edited, *judged}}
        group = apply_policy([replace(group, edited=edited)], policy)[0]
        if group.members[0].id == keeper.id:
            return group
    return group
