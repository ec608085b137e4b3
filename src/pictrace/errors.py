"""PicTrace's one exception tree.

Every error the library raises on purpose is a ``PicTraceError``; foreign errors (Pillow, faiss,
onnxruntime, sqlite3, httpx) are translated at the edge with ``raise ... from``::

    PicTraceError
    ├── InputError                 the caller gave something we cannot use
    │   ├── SourceUnreadable       path missing / not a file / permission denied
    │   ├── NotAnImage             bytes are not a decodable image (zero-byte, corrupt, text, ...)
    │   ├── ImageTooLarge          decompression bomb, too many pixels or too many bytes
    │   ├── Unprocessable          an image library failed on this one picture
    │   └── FetchError             a URL could not be fetched
    │       ├── BadURL             not a well-formed URL (no host, bad port, bad host name)
    │       ├── BlockedURL         refused by the SSRF guard or an unsupported scheme
    │       └── FetchTimeout       the server was too slow
    ├── Stopped                    long work stopped on request (a server shutting down)
    ├── NotFound                   no image with that id or source in the index
    ├── IndexError_                the index folder itself is a problem
    │   ├── IndexLocked            another process is writing to this index
    │   ├── IndexCorrupt           the catalogue or a vector file cannot be read
    │   ├── IndexTooNew            a newer release laid the catalogue out: not written to
    │   └── IndexClosed            the index was used after it was closed
    ├── ConfigError                bad settings, a bad model config, or a bad calibration file
    └── MissingExtra               an optional dependency is not installed (message has the hint)

Each error carries a stable ``code`` used by the CLI exit message and the HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class PicTraceError(Exception):
    """Base class of every error PicTrace raises on purpose."""

    code = "pictrace_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.query: str | None = None  # set when the error belongs to one query of many


class InputError(PicTraceError):
    code = "bad_input"


class SourceUnreadable(InputError):
    code = "unreadable_source"


class Unprocessable(InputError):
    """A picture that decoded but that a library failed on while its features were computed
    (an unforeseen shape, say): that picture fails, the others of a batch go on."""

    code = "unprocessable_image"

    @classmethod
    def of(cls, name: str, exc: Exception) -> Unprocessable:
        last = str(exc).strip().splitlines()[-1:] or [""]  # OpenCV's own line comes last
        return cls(f"{name}: its features could not be computed ({type(exc).__name__}: {last[0]})")


class NotAnImage(InputError):
    code = "not_an_image"


class ImageTooLarge(InputError):
    code = "image_too_large"

    @classmethod
    def of_bytes(cls, name: str, size: int | None, limit: int) -> ImageTooLarge:
        """A file (or download, or upload) of more bytes than ``settings.max_bytes`` allows
        (``size`` None: a download stopped at the limit, its length not known)."""
        found = f"{size:,} bytes exceeds" if size is not None else "more than"
        return cls(f"{name}: {found} the limit of {limit:,} bytes (PICTRACE_MAX_BYTES)")


class FetchError(InputError):
    code = "fetch_failed"


class BadURL(FetchError):
    code = "bad_url"


class BlockedURL(FetchError):
    code = "blocked_url"


class FetchTimeout(FetchError):
    code = "fetch_timeout"


class Stopped(PicTraceError):
    """Long work stopped on request (a server shutting down)."""

    code = "stopped"


class NotFound(PicTraceError):
    code = "not_found"


class IndexError_(PicTraceError):
    code = "index_error"


class IndexLocked(IndexError_):
    code = "index_locked"


class IndexCorrupt(IndexError_):
    code = "index_corrupt"


class IndexTooNew(IndexError_):
    """A catalogue a newer release made (another layout): this one must not write to it."""

    code = "index_too_new"


class IndexClosed(IndexError_):
    """The index was used after ``Index.close`` (or its ``with`` block) ended."""

    code = "index_closed"


class ConfigError(PicTraceError):
    code = "config_error"


class MissingExtra(PicTraceError):
    code = "missing_extra"

    @classmethod
    def for_module(cls, module: str, extra: str) -> MissingExtra:
        return cls(f"{module} is not installed; install it with: pip install 'pictrace[{extra}]'")


@contextmanager
def needs_extra(extra: str) -> Iterator[None]:
    """Around the lazy import of a module that needs an optional extra: a third-party module
    it cannot find raises ``MissingExtra`` with the install hint, not a traceback."""
    try:
        yield
    except ImportError as exc:  # a module not found, or a library saying what it lacks
        missing = (exc.name or "").split(".")[0]
        if missing == "pictrace":  # our own import failing is a bug, not a missing extra
            raise
        if isinstance(exc, ModuleNotFoundError) and missing:
            raise MissingExtra.for_module(missing, extra) from exc
        raise MissingExtra(f"{exc}; install it with: pip install 'pictrace[{extra}]'") from exc
