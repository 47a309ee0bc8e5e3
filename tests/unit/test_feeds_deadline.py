"""Every feed has an overall deadline: a server that trickles an answer never holds a poll.

The trickling server (tests/feeds_trickle.py) is real, on 127.0.0.1, and sends a
byte every half second: a per-read timeout never fires.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from cli import app
from sanqing.errors import FetchError
from sanqing.feeds.watch import poll
from sanqing.settings import REPO_ROOT
from tests.feeds_trickle import TrickleServer

ORANGE = str(REPO_ROOT / "tests" / "data" / "feeds" / "cap" / "rainstorm_orange_zh_en.xml")
NOW = "2026-07-12T19:00:00+08:00"
#: Waits for what must happen long before it: only a hang reaches them.
GENEROUS_S = 40


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer() as server:
        yield server


def guarded(fn, *args, **kw) -> object:  # type: ignore[no-untyped-def]
    """Run ``fn`` where a hang cannot hold up the run: what it returned or raised."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn(*args, **kw))
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=GENEROUS_S)
    assert not t.is_alive(), "still running: nothing bounds it"
    return out[0]


@pytest.mark.parametrize("path", ["/body", "/headers"])
def test_a_trickling_feed_fails_at_its_deadline_and_the_connection_is_dropped(
    trickle: TrickleServer, path: str
) -> None:
    got = guarded(
        poll, url=trickle.url(path), area_codes=[], area_desc="", conditional=False, deadline_s=1
    )
    assert isinstance(got, FetchError), got
    assert "deadline" in str(got) and trickle.url(path) in str(got)
    assert not got.retryable  # the next scheduled poll tries again, not a retry storm
    # the client hung up: the server did not have to give up on its own
    done = threading.Event()
    for _ in range(GENEROUS_S * 10):
        if path in trickle.hung_up_at or done.wait(0.1):
            break
    assert path in trickle.hung_up_at


def test_ingest_reads_sources_concurrently_and_a_slow_one_only_fails_itself(
    db_url: str, trickle: TrickleServer
) -> None:
    result = guarded(
        CliRunner().invoke,
        app,
        [
            "warnings",
            "ingest",
            trickle.url("/body"),
            ORANGE,
            "--json",
            "--deadline",
            "2",
            "--now",
            NOW,
        ],
    )
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]  # type: ignore[attr-defined]
    assert [line["decision"]["action"] for line in lines] == ["reject", "activate"]
    assert "deadline" in lines[0]["decision"]["reason"]


def test_a_proxy_from_the_environment_is_used_and_bound_by_the_deadline_too(
    trickle: TrickleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy (HTTP_PROXY), the feed is still read through it, and still on time."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", trickle.url("/"))
    got = guarded(
        poll,
        url="http://feed.example.invalid/headers",
        area_codes=[],
        area_desc="",
        conditional=False,
        deadline_s=1,
    )
    assert trickle.requests == ["http://feed.example.invalid/headers"]  # through the proxy
    assert isinstance(got, FetchError) and "deadline" in str(got), got
