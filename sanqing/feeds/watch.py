"""One poll of a feed, and recording what it said: the domain side of the rain watch."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urljoin

import httpx
from sqlmodel import Session, col, select

from sanqing.db import session_scope, upsert
from sanqing.feeds.decide import DRILL_STATUSES, HOLDING_ACTIONS, holders, ingest, record_rejection
from sanqing.feeds.fetch import FetchError, fetch, is_url
from sanqing.feeds.model import Action, Decision, FeedWarning, ParseFailure, ParseResult
from sanqing.feeds.parse import parse_document
from sanqing.models import Activation, ActivationStatus, FeedRecord, FeedState, utcnow
from sanqing.plans import Plan
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
) -> ParseResult:
    """Fetch a feed if it changed (ETag / Last-Modified), follow index links, parse it all.

    A message that cannot be fetched or read becomes a failure of its own; it
    never hides the others. Only the index itself failing raises (to be retried).
    """
    now = now or utcnow()
    etag = modified = None
    if conditional:
        with session_scope() as session:
            state = session.get(FeedState, url)
            if state is not None:
                etag, modified = state.etag, state.last_modified
    http = client or httpx.Client(timeout=get_settings().feed_timeout_s, follow_redirects=True)
    try:
        try:
            got = fetch(url, client=http, etag=etag, last_modified=modified)
        except FetchError as exc:
            if conditional:
                _remember(url, now=now, error=str(exc))
            raise
        result = ParseResult()
        if not got.not_modified:
            result = parse_document(
                got.data, source=url, area_codes=area_codes, area_desc=area_desc
            )
            for link in result.links[:MAX_LINKS_PER_POLL]:
                target = urljoin(url, link) if is_url(url) else link
                try:
                    sub = fetch(target, client=http)
                except FetchError as exc:
                    result.failures.append(ParseFailure(source=target, reason=str(exc)))
                    continue
                inner = parse_document(
                    sub.data, source=target, area_codes=area_codes, area_desc=area_desc
                )
                result.warnings.extend(inner.warnings)
                result.failures.extend(inner.failures)
            result.links = []
        if conditional:
            _remember(url, now=now, etag=got.etag, modified=got.last_modified, ok=True)
        return result
    finally:
        if client is None:
            http.close()


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


def ingest_results(
    *, session: Session, results: list[ParseResult], plan: Plan, now: datetime | None = None
) -> list[tuple[FeedWarning | None, Decision]]:
    """Decide and store every warning; store every refusal as ``reject``."""
    now = now or utcnow()
    out: list[tuple[FeedWarning | None, Decision]] = []
    for result in results:
        for warning in result.warnings:
            out.append((warning, ingest(session=session, warning=warning, plan=plan, now=now)))
        for failure in result.failures:
            record_rejection(
                session=session,
                source=failure.source,
                identifier=failure.identifier,
                reason=failure.reason,
                now=now,
            )
            out.append((None, Decision(action=Action.REJECT, reason=failure.reason)))
    return out


def expired_responses(
    *, session: Session, plan: Plan, now: datetime | None = None
) -> list[tuple[str, bool]]:
    """Running responses whose warnings have all expired: ``(town_code, drill)`` to stand down.

    The warnings are marked ended. A response no warning ever held (a manual
    start) is left to the commander.
    """
    now = now or utcnow()
    open_acts = session.exec(
        select(Activation).where(
            Activation.plan == plan.plan, Activation.status == ActivationStatus.ACTIVE
        )
    ).all()
    records = session.exec(
        select(FeedRecord).where(
            FeedRecord.ended == False,  # noqa: E712 - SQL expression
            col(FeedRecord.action).in_([a.value for a in HOLDING_ACTIONS]),
        )
    ).all()
    out: list[tuple[str, bool]] = []
    for act in open_acts:
        held_by = [
            r
            for r in records
            if act.town_code in r.town_codes
            and (r.status.strip().lower() in DRILL_STATUSES) == act.drill
        ]
        if not held_by or holders(session, town_code=act.town_code, drill=act.drill, now=now):
            continue
        for r in held_by:
            r.ended = True
            session.add(r)
        out.append((act.town_code, act.drill))
    return out
