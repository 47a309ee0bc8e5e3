"""One poll of a feed: fetch it if it changed, follow an index's links, parse it all.

The feed's validators (ETag / Last-Modified) are saved by ``remember_feeds`` once
what the poll gave is decided, never by the poll itself.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urljoin

import httpx

from sanqing.db import session_scope, upsert
from sanqing.errors import FetchError
from sanqing.feeds.fetch import FEED_DEADLINE_S, Deadline, deadline_client, fetch, is_url
from sanqing.feeds.model import ParseFailure, ParseResult
from sanqing.feeds.parse import parse_document
from sanqing.models import FeedState, utcnow
from sanqing.settings import get_settings

#: An index lists at most this many messages worth fetching in one poll.
MAX_LINKS_PER_POLL = 50


def poll(
    *,
    url: str,
    area_codes: list[str],
    area_desc: str,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    conditional: bool = True,
    deadline_s: float = FEED_DEADLINE_S,
) -> ParseResult:
    """Fetch a feed if it changed (ETag / Last-Modified), follow index links, parse it all.

    The validators are returned, not saved: ``remember_feeds`` saves them once
    what the poll gave is decided, so a crash in between re-reads the feed. A
    linked message that fails on the network fails the whole poll (to be
    retried); one that cannot be read is a failure of its own and never hides
    the others.

    The whole poll — the index and every message it links to — has ``deadline_s``
    seconds: an index not read by then fails the poll (not retried at once: the next
    scheduled poll asks again), and a linked message not read by then is a failure of
    its own, the poll incomplete (its index is read whole again next time).
    """
    now = now or utcnow()
    deadline = Deadline.after(deadline_s)
    etag, modified = _validators(url) if conditional else (None, None)
    http = client or deadline_client(deadline, timeout=get_settings().feed_timeout_s)
    try:
        try:
            got = fetch(url, client=http, etag=etag, last_modified=modified, deadline=deadline)
        except FetchError as exc:
            if conditional:
                _remember(url, now=now, error=str(exc))
            raise
        result = ParseResult(url=url, etag=got.etag, last_modified=got.last_modified)
        if got.not_modified:
            result.etag, result.last_modified = etag, modified
            return result
        parsed = parse_document(got.data, source=url, area_codes=area_codes, area_desc=area_desc)
        result.warnings, result.failures = parsed.warnings, parsed.failures
        _follow_links(
            result,
            parsed.links,
            http=http,
            deadline=deadline,
            area_codes=area_codes,
            area_desc=area_desc,
        )
        return result
    finally:
        if client is None:
            http.close()


def _validators(url: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified the feed last answered with, if it was read before."""
    with session_scope() as session:
        state = session.get(FeedState, url)
        if state is not None:
            return state.etag, state.last_modified
    return None, None


def _follow_links(
    result: ParseResult,
    links: list[str],
    *,
    http: httpx.Client,
    deadline: Deadline,
    area_codes: list[str],
    area_desc: str,
) -> None:
    """Read the messages an index links to, up to ``MAX_LINKS_PER_POLL``, into ``result``."""
    for i, link in enumerate(links):
        target = urljoin(result.url, link) if is_url(result.url) else link
        if i >= MAX_LINKS_PER_POLL:
            result.failures.append(
                ParseFailure(
                    source=target,
                    reason=f"{target}: not fetched, more than {MAX_LINKS_PER_POLL} links in one poll",
                )
            )
            result.complete = False  # read the index whole again next time
            continue
        _read_linked(
            result,
            target,
            http=http,
            deadline=deadline,
            area_codes=area_codes,
            area_desc=area_desc,
        )


def _read_linked(
    result: ParseResult,
    target: str,
    *,
    http: httpx.Client,
    deadline: Deadline,
    area_codes: list[str],
    area_desc: str,
) -> None:
    """Fetch and parse one message an index links to, into the poll's ``result``."""
    try:
        sub = fetch(target, client=http, deadline=deadline)
    except FetchError as exc:
        if exc.retryable:
            raise  # retry the poll: nothing is saved before everything is read
        result.failures.append(ParseFailure(source=target, reason=str(exc)))
        if exc.deadline:
            result.complete = False
        return
    inner = parse_document(sub.data, source=target, area_codes=area_codes, area_desc=area_desc)
    result.warnings.extend(inner.warnings)
    result.failures.extend(inner.failures)
    if inner.links:  # an index linking to an index: one level is followed, not more
        result.failures.append(
            ParseFailure(
                source=target,
                reason=f"{target}: an index linked from the index {result.url}; its"
                f" {len(inner.links)} link(s) are not followed (one level only)",
            )
        )


def remember_feeds(results: list[ParseResult], *, now: datetime | None = None) -> None:
    """Save each complete feed's validators: the next poll asks only for what changed."""
    now = now or utcnow()
    for r in results:
        if r.url and r.complete:
            _remember(r.url, now=now, etag=r.etag, modified=r.last_modified, ok=True)


def _remember(
    url: str,
    *,
    now: datetime,
    etag: str | None = None,
    modified: str | None = None,
    ok: bool = False,
    error: str | None = None,
) -> None:
    row: dict[str, object] = {"url": url, "last_polled_at": now, "last_error": error}
    if ok:
        row |= {"etag": etag, "last_modified": modified, "last_ok_at": now}
    with session_scope() as session:
        upsert(session, FeedState, [row], update=None)
