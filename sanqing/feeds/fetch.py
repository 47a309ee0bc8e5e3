"""Reading a feed document from a file or over HTTP, with a timeout and a size limit."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

import httpx

from sanqing.errors import SanqingError

DEFAULT_TIMEOUT_S = 15.0
#: A warning document is a few kilobytes; an index a few hundred. Anything far larger is refused.
MAX_RESPONSE_BYTES = 2_000_000
READ_CHUNK_BYTES = 65_536


class FetchError(SanqingError, OSError):
    """A feed document could not be read (network, HTTP status, size, missing file)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable  # network trouble and 5xx may pass; 4xx and size will not


@dataclass(frozen=True)
class Fetched:
    source: str
    data: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def read_file(source: str, *, max_bytes: int = MAX_RESPONSE_BYTES) -> bytes:
    """A local feed document: a regular file only, and never more than ``max_bytes`` read.

    The size a file claims is not trusted (a link to ``/dev/zero`` claims 0 bytes and
    never ends): at most ``max_bytes + 1`` bytes are read. A FIFO, a device or a socket
    is refused before anything is read; opening without blocking, a FIFO nobody writes
    to cannot hang the poll.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FetchError(f"{source}: cannot read ({exc.strerror})") from exc
    with os.fdopen(fd, "rb", buffering=0) as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FetchError(f"{source}: not a regular file ({_file_kind(mode)}), refused")
        try:
            data = _read_at_most(f, max_bytes + 1)
        except OSError as exc:  # FetchError is an OSError too: only the read's are caught
            raise FetchError(f"{source}: cannot read ({exc.strerror})") from exc
    if len(data) > max_bytes:
        raise FetchError(f"{source}: more than the {max_bytes} bytes allowed, refused")
    return data


def _read_at_most(f: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = f.read(min(left, READ_CHUNK_BYTES))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a file"


def fetch(
    source: str,
    *,
    client: httpx.Client | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Fetched:
    """Read ``source`` (a path or an http(s) URL); conditional when ``etag``/``last_modified``."""
    if not is_url(source):
        return Fetched(source, read_file(source, max_bytes=max_bytes))
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own = client is None
    http = client or httpx.Client(timeout=DEFAULT_TIMEOUT_S, follow_redirects=True)
    try:
        with http.stream("GET", source, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(source, b"", etag, last_modified, not_modified=True)
            response.raise_for_status()
            chunks: list[bytes] = []
            total = 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"{source}: response larger than {max_bytes} bytes, refused")
                chunks.append(chunk)
            return Fetched(
                source,
                b"".join(chunks),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        raise FetchError(f"{source}: HTTP {code}", retryable=code >= 500 or code == 429) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{source}: {type(exc).__name__}: {exc}", retryable=True) from exc
    finally:
        if own:
            http.close()
