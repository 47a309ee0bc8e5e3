"""Reading a feed document from a file or over HTTP, with a timeout and a size limit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from sanqing.errors import SanqingError

DEFAULT_TIMEOUT_S = 15.0
#: A warning document is a few kilobytes; an index a few hundred. Anything far larger is refused.
MAX_RESPONSE_BYTES = 2_000_000


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
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise FetchError(f"{source}: {size} bytes, more than the {max_bytes} allowed")
            return Fetched(source, path.read_bytes())
        except OSError as exc:
            raise FetchError(f"{source}: cannot read ({exc.strerror})") from exc
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
