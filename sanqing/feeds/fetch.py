"""Reading a feed document from a file or over HTTP, with a timeout, a deadline and a size limit.

httpx's timeouts bound each read: a server that sends a byte every half second
never trips them. A :class:`Deadline` bounds a feed's whole poll (the index and
the messages it links to): every read of a client made by :func:`deadline_client`
waits at most until then, headers included, and :func:`fetch` gives up on a body
still coming in when it passes.
"""

from __future__ import annotations

import os
import ssl
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpcore
import httpx

from sanqing.errors import (
    FetchError,
)

DEFAULT_TIMEOUT_S = 15.0
#: A feed's whole poll (index and linked messages) is given up after this many seconds.
FEED_DEADLINE_S = 60.0
#: A warning document is a few kilobytes; an index a few hundred. Anything far larger is refused.
MAX_RESPONSE_BYTES = 2_000_000
READ_CHUNK_BYTES = 65_536


@dataclass(frozen=True)
class Deadline:
    """The moment a feed's poll must be over (monotonic clock), and the time it was given."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def error(self, source: str) -> FetchError:
        # Not retried at once: the next scheduled poll asks again, and the others never wait.
        return FetchError(
            f"{source}: no complete answer within the feed's deadline of {self.seconds:g} s"
            " (the server is too slow or trickles its answer): given up",
            deadline=True,
        )


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def _timeout(self, timeout: float | None) -> float:
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise httpcore.ReadTimeout("the feed's deadline has passed")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._timeout(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._timeout(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Connections that end at the deadline (see ``_DeadlineStream``)."""

    def __init__(self, inner: httpcore.NetworkBackend, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        remaining = max(self._deadline.remaining(), 0.001)
        stream = self._inner.connect_tcp(
            host,
            port,
            remaining if timeout is None else min(timeout, remaining),
            local_address,
            socket_options,
        )
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_client(deadline: Deadline, *, timeout: float = DEFAULT_TIMEOUT_S) -> httpx.Client:
    """An HTTP client whose reads never wait past ``deadline``, the headers' included.

    Built as any client (so proxies from the environment still apply), then each of its
    transports — direct and proxied — gets connections that stop at the deadline: httpx
    builds its connection pools itself, and their network backend is where every read of
    every connection passes. Without one (another httpx), ``fetch`` still checks the
    deadline between the chunks of a body.
    """
    client = httpx.Client(timeout=timeout, follow_redirects=True)
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.ConnectionPool):  # HTTP and SOCKS proxies are pools too
            pool._network_backend = _DeadlineBackend(pool._network_backend, deadline)
    return client


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
    deadline: Deadline | None = None,
) -> Fetched:
    """Read ``source`` (a path or an http(s) URL); conditional when ``etag``/``last_modified``.

    With a ``deadline``, no timeout waits past it and a body still coming in when it
    passes is given up: a :class:`FetchError` with ``deadline`` set.
    """
    if not is_url(source):
        return Fetched(source, read_file(source, max_bytes=max_bytes))
    if deadline is not None and deadline.passed():
        raise deadline.error(source)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own = client is None
    http = client or httpx.Client(timeout=DEFAULT_TIMEOUT_S, follow_redirects=True)
    timeout = _capped(http.timeout, deadline) if deadline else httpx.USE_CLIENT_DEFAULT
    try:
        with http.stream("GET", source, headers=headers, timeout=timeout) as response:
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
                if deadline is not None and deadline.passed():
                    raise deadline.error(source)
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
        if deadline is not None and deadline.passed():
            raise deadline.error(source) from exc
        raise FetchError(f"{source}: {type(exc).__name__}: {exc}", retryable=True) from exc
    finally:
        if own:
            http.close()


def _capped(timeout: httpx.Timeout, deadline: Deadline) -> httpx.Timeout:
    """The client's timeouts, none longer than what is left until the deadline."""
    left = max(deadline.remaining(), 0.001)

    def cap(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )
