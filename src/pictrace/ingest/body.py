"""A downloaded body, decoded and capped as it arrives.

httpx decodes ``Content-Encoding`` in one step per received chunk, so a few kilobytes of
gzip-compressed zeros (twice compressed, they shrink a million-fold) become gigabytes before
any size check runs. ``CappedBody`` takes the raw bytes instead and inflates them at most
``limit`` bytes at a time: one layer of gzip or deflate, nothing else (the fetcher asks for
no other).
"""

from __future__ import annotations

import zlib

from pictrace.errors import FetchError, ImageTooLarge

GZIP = 16 + zlib.MAX_WBITS
ZLIB = zlib.MAX_WBITS
RAW_DEFLATE = -zlib.MAX_WBITS


_GZIP_MAGIC = b"\x1f\x8b"
STEP = 1 << 20  # bytes inflated per call: a bomb is stopped within a few of them


class CappedBody:
    def __init__(self, encoding: str, limit: int, url: str, truncate: bool = False) -> None:
        """``truncate``: a body longer than ``limit`` is its first ``limit`` bytes (``full``
        once they are in) instead of an error."""
        self.limit = limit
        self.url = url
        self.truncate = truncate
        self.full = False
        self.chunks: list[bytes] = []
        self.size = 0
        layers = [e.strip().lower() for e in encoding.split(",") if e.strip()]
        layers = [e for e in layers if e != "identity"]
        if len(layers) > 1 or (layers and layers[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(
                f"{url}: the server sent the body encoded as '{encoding}'; only gzip or "
                "deflate (one layer) is accepted"
            )
        self.encoding = layers[0] if layers else ""
        self.inflater: zlib._Decompress | None = None
        self.head = b""  # a deflate body's first bytes, until its wrapping can be told
        self.after = 0  # raw bytes sent after the end of an encoded body (ignored)
        self.between = b""  # a gzip member's first byte, when a chunk ended after it

    def feed(self, raw: bytes) -> None:
        if self.full:
            return
        if not self.encoding:
            self._keep(raw)
            return
        if self.inflater is None:
            self.head += raw
            if self.encoding == "deflate" and len(self.head) < 2:
                return
            raw, self.head = self.head, b""
            self.inflater = zlib.decompressobj(self._wbits(raw))
        if self.inflater.eof:  # zlib would hold them all, copied again with every chunk
            raw = self._next_member(raw)
            if not raw:
                return
        self._inflate(self.inflater, raw)

    def _next_member(self, raw: bytes) -> bytes:
        """After the end of a gzip member (a chunk ended there): the next member's bytes,
        with a new inflater for them; anything else is ignored (b"")."""
        data, self.between = self.between + raw, b""
        if self.encoding == "deflate" or self.after or not _GZIP_MAGIC.startswith(data[:2]):
            self._ignore(len(data))
            return b""
        if len(data) < 2:
            self.between = data  # the member's first byte only: its second comes next
            return b""
        self.inflater = zlib.decompressobj(GZIP)
        return data

    def finish(self) -> bytes:
        """The whole body (or its first ``limit`` bytes, when ``truncate`` cut it); an
        encoded one must have ended where its encoding says, unless it was cut."""
        if self.encoding and not self.full and (self.inflater is not None or self.head):
            if self.inflater is None:  # one byte of a deflate body
                self.inflater = zlib.decompressobj(self._wbits(self.head))
                self._inflate(self.inflater, self.head)
            if not self.inflater.eof:
                raise FetchError(f"{self.url}: the {self.encoding} body ended early")
        return b"".join(self.chunks)

    def _wbits(self, first: bytes) -> int:
        if self.encoding != "deflate":
            return GZIP
        # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        return ZLIB if wrapped else RAW_DEFLATE

    def _inflate(self, inflater: zlib._Decompress, data: bytes) -> None:
        """Inflate ``data`` in steps of at most STEP bytes (and never past the limit); a
        gzip body of several members goes on with the next one."""
        while True:
            step = min(STEP, self.limit - self.size + 1)
            try:
                out = inflater.decompress(data, step)
            except zlib.error as exc:
                damaged = f"the {self.encoding} body is damaged ({exc})"
                raise FetchError(f"{self.url}: {damaged}") from exc
            self._keep(out)
            if self.full:
                return
            data = inflater.unconsumed_tail
            if inflater.eof:
                rest = inflater.unused_data
                if self.encoding == "deflate" or not rest.startswith(_GZIP_MAGIC):
                    self._next_member(rest)  # ignored, but a gzip member's first byte waits
                    return
                self.inflater = inflater = zlib.decompressobj(GZIP)
                data = rest
            elif not data and len(out) < step:
                return

    def _ignore(self, count: int) -> None:
        """Count bytes sent after the end of the body: as many as the limit at most."""
        self.after += count
        if self.after > self.limit:
            raise ImageTooLarge(
                f"{self.url}: more than {self.limit:,} bytes after the end of the "
                f"{self.encoding} body; the download was stopped"
            )

    def _keep(self, data: bytes) -> None:
        if self.truncate and self.size + len(data) >= self.limit:
            data, self.full = data[: self.limit - self.size], True
        self.size += len(data)
        if self.size > self.limit:
            stopped = ImageTooLarge.of_bytes(self.url, None, self.limit)
            raise ImageTooLarge(f"{stopped.message}; the download was stopped")
        if data:
            self.chunks.append(data)
