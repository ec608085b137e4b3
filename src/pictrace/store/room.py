"""Room made in a space's storage before an add, while searches go on.

faiss grows a flat or HNSW space's storage by copying all of it into a buffer twice as large,
and an add does that under the store's write lock: every search waits for the copy (~1 s at
100,000 CNN vectors, longer as a collection grows). A writer about to add rows that a space's
storage may not hold (``VectorSpace.wants_room``) first copies the space into storage with
room for a quarter more (``vectors.ROOM``), holding only the read lock (searches go on;
writers wait), then puts
the copy in place under the write lock, unless the space changed meanwhile (another writer's
add or removal, or a rebuild): that add then grows the storage itself, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from pictrace.features.base import FeatureSpec
from pictrace.store.rows import most_rows
from pictrace.store.rwlock import ReadWriteLock
from pictrace.store.saved import Space
from pictrace.store.vectors import VectorSpace

Made = tuple[VectorSpace, int, Any, int]  # the space, its changes when copied, the copy, its room


def make_room(
    guard: ReadWriteLock,
    spaces: MutableMapping[str, Space],
    specs: Mapping[str, FeatureSpec],
    images: int,
) -> list[str]:
    """Give each space that wants room for the rows of ``images`` more images a roomier
    storage (see above); the names of those that took it. Each space is copied under a
    hold of the read lock of its own: a writer that starts waiting meanwhile (and the
    searches queued behind it) waits for one copy, not all."""
    made: dict[str, Made] = {}
    for name in list(spaces):
        with guard.reading():
            space, rows = spaces.get(name), most_rows(specs[name], images)
            if isinstance(space, VectorSpace) and space.wants_room(rows):
                made[name] = (space, space.changes, *space.roomier(rows))
    if not made:
        return []
    taken = []
    with guard.writing():
        for name, (space, changes, index, room) in made.items():
            if spaces.get(name) is space and space.changes == changes:
                space.index, space.room = index, room
                taken.append(name)
    return taken
