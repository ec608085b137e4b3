"""Finding a catalogued image by what a user calls it: its id, or the source it was added from."""

from __future__ import annotations

import os
from pathlib import Path

from pictrace.errors import InputError, NotFound
from pictrace.ingest.files import is_url, path_aliases
from pictrace.store.base import Store
from pictrace.types import ImageRecord


def resolve(store: Store, id_or_source: str | int) -> ImageRecord:
    """The image with this id (a number is an id only), or added from this source (a string:
    the entry of the place its path names, under any spelling, also of a file deleted since;
    else the entry added under its name that may be it (``may_be``: not another folder's
    ``a.jpg`` when this folder has a file of that name); else its id)."""
    if isinstance(id_or_source, bool):  # an int to Python, but no id
        raise InputError(f"an image is named by its id or source, not {id_or_source!r}")
    if isinstance(id_or_source, int):
        return store.get(id_or_source)
    text = str(id_or_source)
    path = Path(text).expanduser()
    try:  # a symlink loop or a NUL byte names no file, nor an entry by its place
        location = None if is_url(text) else str(path.resolve())
        here = path.is_file()  # (its entry may be of a file deleted since: found all the same)
    except (OSError, RuntimeError, ValueError):
        location, here = None, False
    record = store.by_location(location) if location else None  # this path's own entry
    other = None  # an entry under this name that is another file
    for name in (text, *path_aliases(text)) if record is None else ():
        found = store.by_source(name)  # as added; for a file here, only an entry it may be
        if found is not None and (not here or may_be(store, found, str(location))):
            record = found
            break
        other = other or found
    if record is None and text.isascii() and text.isdigit():
        record = store.records([int(text)]).get(int(text))
    if record is None:
        elsewhere = (
            f" (the file here is not; image {other.id} was added under that name from "
            f"{store.location_of(other.id)}: name it by its id)"
            if other is not None
            else ""
        )
        raise NotFound(f"no image with id or source {text!r} in the index{elsewhere}")
    return record


def may_be(store: Store, record: ImageRecord, location: str) -> bool:
    """Whether a record can be the local file at ``location``: it was added from there,
    or from a place where no file is any more (the folder was moved: the same relative
    name is the same file), or before locations were recorded (an older release)."""
    recorded = store.location_of(record.id)
    return recorded is None or recorded == location or not os.path.lexists(recorded)
