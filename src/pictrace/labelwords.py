"""Words of predicted labels, as text search matches them: whole words, a plural finding its
singular ("cats" finds "tabby cat"), "%", "_" and "-" only separating words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

WORD = re.compile(r"[^\W_]+")  # letters and digits


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def forms(word: str) -> set[str]:
    """The label words a search word matches: itself, and its singular when it looks plural."""
    found = {word}
    if len(word) > 4 and word.endswith("ies"):
        found.add(word[:-3] + "y")  # strawberries: strawberry
    if len(word) > 3 and word.endswith("es"):
        found.add(word[:-2])
    if len(word) > 2 and word.endswith("s"):
        found.add(word[:-1])
    return found


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    from pictrace.features.cnn import imagenet_labels

    return frozenset(w for label in imagenet_labels() for w in words(label))


NAMED_BY = 2  # a label's first synonyms: its names (later ones are nicknames, Latin)
NICKNAMED = 0.25  # the weight of a label that has the words in a later synonym only


def label_weight(label: str, stems: Sequence[set[str]]) -> float:
    """How much a predicted label with every search word counts: in full when one of its
    first ``NAMED_BY`` synonyms has them ("tabby, tabby cat", "pickup, pickup truck"),
    ``NICKNAMED`` when only a later one does (the red panda's fourth, "bear cat": a cat
    the CNN is 0.4 sure of ranks before a red panda it is 0.95 sure of), 0 without them
    all. ``stems``: the forms of each search word (``forms``)."""
    if not all(set(words(label)) & s for s in stems):
        return 0.0
    named = set(words(",".join(label.split(",")[:NAMED_BY])))
    return 1.0 if all(named & s for s in stems) else NICKNAMED


def unknown_words(text: str) -> list[str]:
    """The words of ``text`` that no ImageNet label has (so no predicted label can match)."""
    return [w for w in words(text) if not forms(w) & _vocabulary()]


def label_hint(text: str) -> str:
    """Why a label search for ``text`` may find nothing: labels are ImageNet's class names."""
    unknown = unknown_words(text)
    if unknown:
        named = ", ".join(repr(w) for w in unknown)
        return f"{named}: in no ImageNet class name, which is what the labels are"
    return "no image has a top-5 ImageNet label with every word"
