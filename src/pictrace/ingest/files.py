"""Files and folders -> Sources. Folders are walked recursively for image extensions (what a
walk passes over is counted: an add says what it left out); files named explicitly are always
tried, whatever their extension."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pictrace.errors import ImageTooLarge, InputError, SourceUnreadable
from pictrace.types import Source

IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".webp",
        ".heic",
        ".heif",
        ".avif",
        ".ppm",
        ".pgm",
        ".pbm",
        ".ico",
        ".jfif",
    }
)


def is_url(item: str) -> bool:
    return item.startswith(("http://", "https://"))


def not_paths(given: str) -> InputError:
    """What ``Index.add`` says of what is no file, folder or URL (``given``: what it was)."""
    return InputError(
        f"add takes files, folders or URLs (one, or a list of them), not {given}: save "
        "pictures held in memory to files and add those"
    )


@dataclass
class LeftOut:
    """What walking the folders named passed over, counted per folder named (each entry once:
    under the first folder named that holds it)."""

    not_images: Counter[str] = field(default_factory=Counter)  # files not images by name
    hidden: Counter[str] = field(default_factory=Counter)  # images and folders named ".x"
    linked: Counter[str] = field(default_factory=Counter)  # symlinked folders, not followed
    counted: set[str] = field(default_factory=set)
    named: set[str] = field(default_factory=set)  # folders named too: walked, not counted

    def count(self, kind: Counter[str], named: str, found: str) -> None:
        if found not in self.counted:
            self.counted.add(found)
            kind[named] += 1


def expand(items: Iterable[str | Path], left_out: LeftOut | None = None) -> Iterator[str]:
    """Yield file paths (as given or found under folders, sorted) and URLs untouched, each
    once (a file named and found under a folder named too goes under its first spelling);
    with ``left_out``, count what the walks passed over."""
    seen: set[str] = set()
    items = list(items)
    left_out = left_out if left_out is not None else LeftOut()
    left_out.named = set(_named_folders(items))
    for found in _expanded(items, left_out):
        key = _spelling(found)
        if key not in seen:
            seen.add(key)
            yield found


def _named_folders(items: Iterable[object]) -> Iterator[str]:
    """The absolute paths of the local paths among ``items`` (those that are folders count)."""
    for item in items:
        if isinstance(item, str | os.PathLike) and "://" not in str(item) and str(item).strip():
            with contextlib.suppress(OSError):  # the current folder is gone
                yield os.path.abspath(os.path.expanduser(item))


def _spelling(path: str) -> str:
    """A path as the same text whatever the folder it is given from (``./a`` or ``a``); a
    ``..`` stays, as a symlinked folder before it leads elsewhere (the add tells such
    spellings of one file apart by the file itself)."""
    if "://" in path or not path.strip():
        return path
    try:
        return str(Path(path).absolute())
    except OSError:  # the current folder is gone: reading the path says so
        return path


def _expanded(items: Iterable[str | Path], left_out: LeftOut) -> Iterator[str]:
    for item in items:
        if not isinstance(item, str | os.PathLike):  # bytes, an image, a line of a file, ...
            raise not_paths(f"a {type(item).__name__} in the list")
        text = str(item)
        if not text.strip():
            yield text  # never the current folder: reading it fails as an empty path
            continue
        if is_url(text) or "://" in text:
            yield text  # other schemes are refused, with a reason, when they are read
            continue
        path = Path(os.path.expanduser(text))
        if path.is_dir():
            yield from (str(p) for p in _walk(path, text, left_out))
        else:
            yield str(path) if text.startswith("~") else text


def _walk(folder: Path, named: str, left_out: LeftOut) -> Iterator[Path]:
    """Image files under ``folder``, sorted; hidden entries, symlinked folders (``os.walk``
    does not follow them) and files not images by name are counted, not walked."""
    for root, dirs, files in os.walk(folder):
        kept = []
        for name in dirs:
            found = os.path.join(root, name)
            hidden, linked = name.startswith("."), os.path.islink(found)
            if (hidden or linked) and os.path.abspath(found) in left_out.named:
                continue  # named too: walked as that, so not left out
            if hidden:
                left_out.count(left_out.hidden, named, found)
            elif linked:
                left_out.count(left_out.linked, named, found)
            else:
                kept.append(name)
        dirs[:] = sorted(kept)
        for name in sorted(files):
            found = os.path.join(root, name)
            if Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                if not name.startswith("."):  # .DS_Store and the like are no news
                    left_out.count(left_out.not_images, named, found)
            elif name.startswith("."):
                left_out.count(left_out.hidden, named, found)
            else:
                yield Path(root) / name


def path_aliases(text: str) -> list[str]:
    """Other spellings a file source may have been added under (relative vs absolute, from
    the current folder)."""
    path = Path(text).expanduser()
    aliases = [str(path)]
    # another drive on Windows (ValueError); the current folder deleted (OSError)
    with contextlib.suppress(ValueError, OSError):
        aliases.append(str(path.absolute()))
        aliases.append(os.path.relpath(path.absolute()))
    return aliases


def read_file(path: str, max_bytes: int) -> Source:
    """Read one file into a Source, with a clear error for anything unreadable."""
    if "://" in path:
        raise SourceUnreadable(f"{path}: unsupported URL scheme (use http:// or https://)")
    if not path.strip():
        raise SourceUnreadable(f"{path!r}: an empty path (an unset variable?) names no file")
    target = Path(path)
    try:
        size = target.stat().st_size
        if target.is_dir():
            raise SourceUnreadable(f"{path}: a folder, not an image file (add takes folders)")
        if not target.is_file():
            raise SourceUnreadable(f"{path}: not a regular file")
        if size > max_bytes:
            raise ImageTooLarge.of_bytes(path, size, max_bytes)
        data = target.read_bytes()
    except FileNotFoundError as exc:
        raise SourceUnreadable(f"{path}: no such file or folder") from exc
    except PermissionError as exc:
        raise SourceUnreadable(f"{path}: permission denied") from exc
    except IsADirectoryError as exc:
        raise SourceUnreadable(f"{path}: is a directory") from exc
    except OSError as exc:
        raise SourceUnreadable(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return Source(uri=path, data=data, location=str(target.expanduser().resolve()))
