"""Reading feed documents (sanqing/feeds/fetch.py) with httpx.MockTransport and files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sanqing.feeds.fetch import FetchError, fetch


def client(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_file_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "a.xml"
    p.write_bytes(b"<alert/>")
    assert fetch(str(p)).data == b"<alert/>"
    with pytest.raises(FetchError, match="cannot read"):
        fetch(str(tmp_path / "missing.xml"))


def test_conditional_request_sends_validators_and_understands_304() -> None:
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        return httpx.Response(304)

    got = fetch(
        "http://feed.test/a",
        client=client(handler),
        etag='"v1"',
        last_modified="Sun, 12 Jul 2026 10:00:00 GMT",
    )
    assert got.not_modified and seen["if-none-match"] == '"v1"'
    assert seen["if-modified-since"].startswith("Sun, 12 Jul 2026")


def test_etag_is_returned_and_errors_are_named() -> None:
    ok = fetch(
        "http://feed.test/a",
        client=client(lambda r: httpx.Response(200, content=b"x", headers={"ETag": '"v2"'})),
    )
    assert ok.data == b"x" and ok.etag == '"v2"'
    with pytest.raises(FetchError, match="HTTP 503"):
        fetch("http://feed.test/a", client=client(lambda r: httpx.Response(503)))


def test_oversized_response_is_refused() -> None:
    big = client(lambda r: httpx.Response(200, content=b"x" * 5000))
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetch("http://feed.test/a", client=big, max_bytes=1000)
