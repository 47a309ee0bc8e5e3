"""Reading feed documents (sanqing/feeds/fetch.py) with httpx.MockTransport and files."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from sanqing.errors import FetchError
from sanqing.feeds.fetch import fetch


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


def fetch_in_thread(source: str) -> BaseException | object:
    """Run fetch where a hang cannot hold up the test run: what it returned or raised."""
    import threading

    out: list[BaseException | object] = []

    def run() -> None:
        try:
            out.append(fetch(source, max_bytes=1000))
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=30)  # generous: a refusal is immediate, a hang never ends
    assert not t.is_alive(), f"fetch({source!r}) still running: it hangs"
    return out[0]


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.xml"
    os.mkfifo(fifo)
    got = fetch_in_thread(str(fifo))
    assert isinstance(got, FetchError) and "not a regular file" in str(got)
    assert str(fifo) in str(got)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_link_to_a_device_is_refused(tmp_path: Path, device: str) -> None:
    link = tmp_path / "feed.xml"
    link.symlink_to(device)
    got = fetch_in_thread(str(link))
    assert isinstance(got, FetchError) and "not a regular file" in str(got)


def test_a_file_is_read_up_to_the_limit_and_refused_beyond_it(tmp_path: Path) -> None:
    p = tmp_path / "a.xml"
    p.write_bytes(b"x" * 1000)
    assert fetch(str(p), max_bytes=1000).data == b"x" * 1000
    p.write_bytes(b"x" * 1001)
    with pytest.raises(FetchError, match="more than the 1000 bytes allowed"):
        fetch(str(p), max_bytes=1000)
