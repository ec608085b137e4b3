"""Finding a catalogued image by what a user calls it: its id, or the source it was added from."""

from __future__ import annotations

from pathlib import Path

from pictrace.errors import InputError, NotFound
from pictrace.ingest.files import path_aliases
from pictrace.store.base import Store
from pictrace.types import ImageRecord


def resolve(store: Store, id_or_source: str | int) -> ImageRecord:
    """The image with this id (a number is an id only), or added from this source (a string:
    an existing file's own entry under any spelling of its path, else the source as added
    (another folder's ``a.jpg`` only when this folder has none), or else its id: a file named
    ``2`` comes before image 2)."""
    if isinstance(id_or_source, bool):  # an int to Python, but no id
        raise InputError(f"an image is named by its id or source, not {id_or_source!r}")
    if isinstance(id_or_source, int):
        return store.get(id_or_source)
    text = str(id_or_source)
    record = None
    if Path(text).expanduser().is_file():  # this file's own entry, under any spelling
        record = store.by_location(str(Path(text).expanduser().resolve()))
    record = record or store.by_source(text)
    if record is None and text.isascii() and text.isdigit():
        record = store.records([int(text)]).get(int(text))
    for alias in path_aliases(text):
        record = record or store.by_source(alias)
    if record is None:
        raise NotFound(f"no image with id or source {text!r} in the index")
    return record
