"""Which member of a duplicate group to keep: the keeper policy.

Each group's members are ordered by rules (``settings.keeper_policy``, default
``types.KEEPER_POLICY``), the first being ``original``: the member the verified pairs judged
made from another least often (``edited``). Then the file: largest resolution, lossless
format, richest EXIF, most bytes, or the order in which they were added. Before every policy,
a member whose file is gone and a lossless re-save of another member's very pixels come
last (``BEFORE_POLICY``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import cast

from pictrace.errors import InputError
from pictrace.search.edited import most_pixels, pixels
from pictrace.types import (
    DuplicateGroup,
    ImageRecord,
    KeeperReason,
    KeeperRule,
    contrary_rules,
    rule_names,
)

NETPBM = frozenset({"ppm", "pgm", "pbm", "pfm"})
LOSSLESS = frozenset({"png", "tiff", "bmp", "webp-lossless"}) | NETPBM
RESOLUTION_BAND = 1.1  # within this factor of a group's most pixels counts as its resolution

KEEPER_LABELS: dict[KeeperReason, str] = {
    "present": "the only file still on disk",
    "resave": "the same pixels as a lossless re-save of them",
    "original": "not an edited copy",
    "resolution": "largest resolution",
    "lossless": "lossless format",
    "exif": "richest EXIF",
    "bytes": "largest file",
    "oldest": "added first",
    "newest": "added last",
}
# Each rule scores a member among its peers (the members of its group still tied on the rules
# before it), lower first. "resolution": pixels within RESOLUTION_BAND of the peers' most tie.
Rule = Callable[[ImageRecord, DuplicateGroup, Sequence[ImageRecord]], float]
_RULES: dict[KeeperRule, Rule] = {
    "original": lambda r, g, peers: g.edited.get(r.id, 0),
    "resolution": lambda r, g, peers: -min(pixels(r) * RESOLUTION_BAND, most_pixels(peers)),
    # (a lossless re-save of a lossy peer's pixels is set apart before, by "resave")
    "lossless": lambda r, g, peers: -1.0 if r.format in LOSSLESS else 0.0,
    "exif": lambda r, g, peers: -r.exif_tags,
    "bytes": lambda r, g, peers: -r.byte_size,
    "oldest": lambda r, g, peers: r.added_at,
    "newest": lambda r, g, peers: -r.added_at,
}
# Before every policy: a member whose file is gone comes after those whose file is there, and
# a lossless file of the very pixels a lossy member holds (a decoded JPEG saved again as PNG or
# lossless WebP: no lossy encoder gives back the pixels of a lossless file) after that member,
# which is as good a keeper (smaller, with its camera's metadata); so does a Netpbm file of
# the pixels a smaller lossless one holds (a PPM of a PNG). Not an edit: nothing changed.
BEFORE_POLICY: tuple[KeeperReason, ...] = ("present", "resave")
_ORDERED: dict[KeeperReason, Rule] = {
    "present": lambda r, g, peers: 1.0 if r.id in g.missing else 0.0,
    "resave": lambda r, g, peers: 1.0 if r.id in resaved(peers) else 0.0,
    **cast(dict[KeeperReason, Rule], _RULES),
}


def checked_policy(
    policy: str | Iterable[str], default: Sequence[KeeperRule] | None = None
) -> tuple[KeeperRule, ...]:
    """The policy's rules (``types.rule_names``: comma-separated or not), each once, in
    order; ``default`` when it names none; InputError for an unknown rule, for none and no
    default, or for both "oldest" and "newest" (the second would never decide)."""
    rules = rule_names(policy) or list(default or [])
    unknown = [rule for rule in rules if rule not in _RULES]
    if unknown:
        raise InputError(f"unknown keeper rules {unknown}; choose from {list(_RULES)}")
    if not rules:
        raise InputError("a keeper policy needs at least one rule")
    if why := contrary_rules(rules):
        raise InputError(why)
    return tuple(dict.fromkeys(cast(KeeperRule, rule) for rule in rules))


def reason_label(reason: KeeperReason | None) -> str:
    """How a group's keeper was chosen, for people (``DuplicateGroup.reason``)."""
    return KEEPER_LABELS[reason] if reason else "a tie: most pixels, then lowest id"


def apply_policy(
    groups: Iterable[DuplicateGroup], policy: Sequence[KeeperRule]
) -> list[DuplicateGroup]:
    """Each group's members ordered by ``policy``, the first one its keeper. A member whose
    file is gone (``DuplicateGroup.missing``) comes after those whose file is there, whatever
    the policy: deleting the others on its advice would lose the picture."""
    rules = [_ORDERED[name] for name in (*BEFORE_POLICY, *policy)]
    ordered = []
    for group in groups:
        members = tuple(ranked(list(group.members), rules, group))
        reason = _reason(members, policy, group)
        ordered.append(
            DuplicateGroup(members, members[0].id, group.edited, group.pairs, reason, group.missing)
        )
    return ordered


def _reason(
    members: Sequence[ImageRecord], policy: Sequence[KeeperRule], group: DuplicateGroup
) -> KeeperReason | None:
    """Why the keeper comes first: the policy's rule among the members whose files are
    there, or "present" when the keeper's is the only one."""
    present = [m for m in members if m.id not in group.missing]
    if len(present) == 1 and len(members) > 1:
        return "present"
    return deciding_rule(present if len(present) > 1 else members, ("resave", *policy), group)


def deciding_rule(
    members: Sequence[ImageRecord], policy: Sequence[KeeperReason], group: DuplicateGroup
) -> KeeperReason | None:
    """The first rule of ``policy`` that scores the keeper (``members[0]``) better than the
    next member, among the members tied with the keeper so far. When the next member is the
    same file again (equal bytes), the last rule that set the two before any other member
    (the largest file of three, two of them one file); None when none did."""
    if len(members) < 2:
        return None
    keeper, runner_up = members[0], members[1]
    peers = list(members)
    narrowed: KeeperReason | None = None
    for name in policy:
        scores = {r.id: _ORDERED[name](r, group, peers) for r in peers}
        if scores[runner_up.id] != scores[keeper.id]:
            return name
        tied = [r for r in peers if scores[r.id] == scores[keeper.id]]
        narrowed = name if len(tied) < len(peers) else narrowed
        peers = tied
    return narrowed if runner_up.byte_sha256 == keeper.byte_sha256 else None


def ranked(
    members: list[ImageRecord], rules: Sequence[Rule], group: DuplicateGroup
) -> list[ImageRecord]:
    """``members`` best first: by the first rule, the members it ties by the next ones, and
    the last ties by most pixels, then lowest id."""
    if not rules or len(members) < 2:
        return sorted(members, key=lambda r: (-pixels(r), r.id))
    scores = {r.id: rules[0](r, group, members) for r in members}
    return [
        record
        for score in sorted(set(scores.values()))
        for record in ranked([r for r in members if scores[r.id] == score], rules[1:], group)
    ]


def resaved(records: Collection[ImageRecord]) -> list[int]:
    """The lossless members whose pixels a lossy member holds as they are, or a smaller
    lossless file of other bytes does when they are a Netpbm file (uncompressed, without
    metadata or transparency: a PPM of a PNG's pixels adds nothing but bytes) with no more
    EXIF than it. (Another lossless format may hold what the pixel digest leaves out: more
    bits, transparency, metadata.)"""
    lossy = {r.pixel_sha256 for r in records if r.format not in LOSSLESS}
    lossless = [r for r in records if r.format in LOSSLESS]
    return [
        r.id
        for r in lossless
        if r.pixel_sha256 in lossy
        or (r.format in NETPBM and any(_holds_as_much(s, r) for s in lossless))
    ]


def _holds_as_much(smaller: ImageRecord, netpbm: ImageRecord) -> bool:
    """Whether another lossless file holds ``netpbm``'s pixels in fewer bytes, and as much
    metadata."""
    return (
        smaller.pixel_sha256 == netpbm.pixel_sha256
        and smaller.byte_sha256 != netpbm.byte_sha256
        and smaller.byte_size < netpbm.byte_size
        and smaller.exif_tags >= netpbm.exif_tags
    )
