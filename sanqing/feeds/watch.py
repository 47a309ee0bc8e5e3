"""One poll of a feed, and recording what it said: the domain side of the rain watch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

import httpx
from sqlalchemy import false, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlmodel import Session, col, select

from sanqing.db import session_scope, upsert
from sanqing.errors import FetchError
from sanqing.feeds.chains import (
    DRILL_STATUSES,
    HOLDING_ACTIONS,
    decision_of,
    holders,
    not_live,
    withdraw,
    withdrawn_why,
)
from sanqing.feeds.fetch import FEED_DEADLINE_S, Deadline, deadline_client, fetch, is_url
from sanqing.feeds.model import Action, Decision, FeedWarning, ParseFailure, ParseResult
from sanqing.feeds.parse import parse_document
from sanqing.feeds.store import ingest, record_rejection
from sanqing.models import (
    Activation,
    ActivationStatus,
    FeedRecord,
    FeedState,
    Patrol,
    utcnow,
)
from sanqing.plans import Plan
from sanqing.settings import get_settings
from sanqing.warning import WarningInfo

log = logging.getLogger(__name__)

#: An index lists at most this many messages worth fetching in one poll.
MAX_LINKS_PER_POLL = 50
#: What a bad warning can raise while it is decided and stored: it becomes a ``reject``.
WARNING_FAULTS = (ValueError, TypeError, ArithmeticError, StatementError)
#: Errors of the database that the data of one warning causes (others are the database's
#: own trouble: they fail the poll, which is retried, and nothing is lost).
DATA_ERRORS = (DataError, IntegrityError)


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
    etag = modified = None
    if conditional:
        with session_scope() as session:
            state = session.get(FeedState, url)
            if state is not None:
                etag, modified = state.etag, state.last_modified
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
        for i, link in enumerate(parsed.links):
            target = urljoin(url, link) if is_url(url) else link
            if i >= MAX_LINKS_PER_POLL:
                result.failures.append(
                    ParseFailure(
                        source=target,
                        reason=f"{target}: not fetched, more than {MAX_LINKS_PER_POLL} links in one poll",
                    )
                )
                result.complete = False  # read the index whole again next time
                continue
            try:
                sub = fetch(target, client=http, deadline=deadline)
            except FetchError as exc:
                if exc.retryable:
                    raise  # retry the poll: nothing is saved before everything is read
                result.failures.append(ParseFailure(source=target, reason=str(exc)))
                if exc.deadline:
                    result.complete = False
                continue
            inner = parse_document(
                sub.data, source=target, area_codes=area_codes, area_desc=area_desc
            )
            result.warnings.extend(inner.warnings)
            result.failures.extend(inner.failures)
            if inner.links:  # an index linking to an index: one level is followed, not more
                result.failures.append(
                    ParseFailure(
                        source=target,
                        reason=f"{target}: an index linked from the index {url}; its"
                        f" {len(inner.links)} link(s) are not followed (one level only)",
                    )
                )
        return result
    finally:
        if client is None:
            http.close()


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


@dataclass(frozen=True)
class Decided:
    """A warning (or a refused document) and the decision taken on it."""

    warning: FeedWarning | None
    decision: Decision
    failure: ParseFailure | None = None


def ingest_results(
    *, session: Session, results: list[ParseResult], plan: Plan, now: datetime | None = None
) -> list[Decided]:
    """Decide and store every warning, each in its own unit; store every refusal as ``reject``.

    A warning that cannot be decided or stored (a value the database refuses, a time
    out of range once in UTC) is rolled back alone, to a savepoint, and stored as a
    ``reject`` naming it and why: the others of the batch are kept.

    On SQLite the database write lock is taken first (``hold_write_lock``): call this
    before anything else in the session's transaction.
    """
    now = now or utcnow()
    hold_write_lock(session)
    out: list[Decided] = []
    for result in results:
        for warning in result.warnings:
            out.append(_ingest_one(session, warning, plan, now))
        for failure in result.failures:
            out.append(_reject(session, failure, now))
    return out


def hold_write_lock(session: Session) -> None:
    """On SQLite, take the database write lock now, for the rest of the transaction.

    A savepoint begins a deferred transaction: the decision's reads pin a snapshot, and
    if another connection commits before the first INSERT, that INSERT cannot upgrade
    the stale snapshot and fails at once ("database is locked", SQLITE_BUSY_SNAPSHOT)
    without waiting. An UPDATE as the first statement takes the write lock even when it
    matches no row: ingests then wait their turn (the busy timeout) and read what is
    committed. PostgreSQL needs nothing: its writers do not block its readers.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(FeedState).where(false()).values(url=FeedState.url))


def _ingest_one(session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Decided:
    try:
        with session.begin_nested():
            return Decided(warning, ingest(session=session, warning=warning, plan=plan, now=now))
    except WARNING_FAULTS as exc:
        if isinstance(exc, DBAPIError) and not isinstance(exc, DATA_ERRORS):
            raise  # the database, not the warning: the poll is retried, nothing is lost
        reason = (
            f"{warning.source or 'feed'}: warning {warning.identifier} could not be decided"
            f" or stored ({_fault(exc)}); the other warnings are kept"
        )
        failure = ParseFailure(source=warning.source, identifier=warning.identifier, reason=reason)
        log.warning("warning %s refused: %s", warning.identifier, reason)
        return _reject(
            session,
            failure,
            now,
            sender=warning.sender,
            source_format=warning.source_format.value,
        )


def _fault(exc: Exception) -> str:
    """The cause in one line (SQLAlchemy wraps it with the whole statement and parameters)."""
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    return f"{type(cause).__name__}: {cause}"


def _reject(
    session: Session,
    failure: ParseFailure,
    now: datetime,
    *,
    sender: str = "",
    source_format: str = "",
) -> Decided:
    record_rejection(
        session=session,
        source=failure.source,
        identifier=failure.identifier,
        reason=failure.reason,
        now=now,
        sender=sender,
        source_format=source_format,
    )
    return Decided(None, Decision(action=Action.REJECT, reason=failure.reason), failure)


#: Decisions that something must be done about.
ACTING = (Action.ACTIVATE, Action.ESCALATE, Action.DOWNGRADE, Action.STAND_DOWN)


@dataclass(frozen=True)
class Pending:
    """A stored decision not yet carried out (a crash, a failed run, a preview without --respond)."""

    record_id: str
    warning: FeedWarning
    decision: Decision
    #: The activations a stand-down or downgrade was decided for (``decide.targets_of``);
    #: None: a start, or a record stored before targets were kept (any open one).
    targets: list[str] | None = None


@dataclass(frozen=True)
class Withdrawn:
    """A decision dropped before it was carried out, and why."""

    record_id: str
    identifier: str
    action: str
    why: str


def withdraw_stale(*, session: Session, now: datetime | None = None) -> list[Withdrawn]:
    """Mark done every start or level change whose warning has meanwhile expired, ended or
    been superseded (see ``decide.not_live``): it is not carried out. Returns them."""
    now = now or utcnow()
    out: list[Withdrawn] = []
    for rec in _pending_records(session):
        why = not_live(session, rec, now=now)
        if why is not None:
            withdraw(session, [rec], why=why)
            out.append(Withdrawn(rec.id, rec.identifier, rec.action, why))
    return out


def pending_decisions(*, session: Session, now: datetime | None = None) -> list[Pending]:
    """Every decision still to carry out, oldest first; stale ones are withdrawn first
    (``withdraw_stale``)."""
    withdraw_stale(session=session, now=now)
    return [
        Pending(rec.id, FeedWarning.model_validate(rec.warning), decision_of(rec), rec.targets)
        for rec in _pending_records(session)
    ]


def _pending_records(session: Session) -> list[FeedRecord]:
    return list(
        session.exec(
            select(FeedRecord)
            .where(
                FeedRecord.done == False,  # noqa: E712 - SQL expression
                col(FeedRecord.action).in_([a.value for a in ACTING]),
            )
            .order_by(col(FeedRecord.received_at), col(FeedRecord.id))
        )
    )


def why_not_carried_out(
    *, session: Session, record_id: str, now: datetime | None = None
) -> str | None:
    """Check a pending decision again just before it is carried out: None, or why not.

    Read again from the database (a cancel may have come in since it was read): a
    decision already done, or whose warning is no longer live, is not carried out;
    the latter is marked done with the reason.
    """
    now = now or utcnow()
    rec = session.get(FeedRecord, record_id, populate_existing=True)
    if rec is None:
        return f"decision {record_id} is not stored"
    if rec.done:
        return withdrawn_why(rec) or f"decision on {rec.identifier} was already carried out"
    why = not_live(session, rec, now=now)
    if why is not None:
        withdraw(session, [rec], why=why)
    return why


def mark_done(
    *,
    session: Session,
    record_id: str,
    activation_id: str | None,
    notes: Sequence[str] = (),
) -> None:
    """The decision was carried out: it is not pending any more.

    ``notes``: what of it was not carried out, and why (``left_alone``); added to its reason.
    """
    rec = session.get(FeedRecord, record_id)
    if rec is not None:
        rec.done = True
        if activation_id:
            rec.activation_id = activation_id
        rec.reason += "".join(LEFT_ALONE_NOTE.format(why=n) for n in notes)
        session.add(rec)


#: Added to the reason of a decision for what of it was not carried out.
LEFT_ALONE_NOTE = "（未执行 not carried out: {why}）"


def left_alone(act: Activation, targets: Sequence[str] | None) -> str | None:
    """Why a stand-down or downgrade must leave the town's open activation alone, or None.

    It acts only on the activation it was decided for: once that one has ended (the
    commander stood it down by hand), a response opened since is another one, which the
    warning's end or downgrade was never about; so is the response of a town the decision
    covers without acting on it. ``targets`` None (a record stored before they were
    kept): any open one.
    """
    if targets is None or act.id in targets:
        return None
    return f"{act.id} is not the response it was decided for ({', '.join(targets)}): left alone"


def expired_responses(
    *, session: Session, plan: Plan, now: datetime | None = None
) -> list[tuple[str, bool]]:
    """Running responses no warning holds any more: ``(town_code, drill)`` to stand down.

    A response is the feed's to end when a warning not yet ended holds its town, or
    when a warning of its own (the one it was started or last continued by, or a
    decision carried out on it) has ended: a cancel whose stand-down failed or was
    lost. It ends once none of the warnings in force (not ended, not expired, not
    superseded) holds it; its warnings are marked ended. A response no warning ever
    held (a manual start) is left to the commander, and so is one whose stand-down
    was already asked for (it waits for its after-rain patrol): it is not asked twice.
    """
    now = now or utcnow()
    open_acts = session.exec(
        select(Activation).where(
            Activation.plan == plan.plan, Activation.status == ActivationStatus.ACTIVE
        )
    ).all()
    records = session.exec(
        select(FeedRecord).where(col(FeedRecord.action).in_([a.value for a in HOLDING_ACTIONS]))
    ).all()
    out: list[tuple[str, bool]] = []
    for act in open_acts:
        if _stand_down_requested(session, act):
            continue
        held_by = [
            r
            for r in records
            if act.town_code in r.town_codes
            and (r.status.strip().lower() in DRILL_STATUSES) == act.drill
            and (not r.ended or _of_activation(r, act))
        ]
        if not held_by or holders(session, town_code=act.town_code, drill=act.drill, now=now):
            continue
        for r in held_by:
            r.ended = True
            session.add(r)
        out.append((act.town_code, act.drill))
    return out


def _of_activation(rec: FeedRecord, act: Activation) -> bool:
    """Whether the record's warning started, continued or was carried out on the activation."""
    return rec.activation_id == act.id or (
        act.warning_identifier is not None and rec.identifier == act.warning_identifier
    )


def _stand_down_requested(session: Session, act: Activation) -> bool:
    """The stand-down was asked for: the after-rain patrol gate is open (response.request_stand_down)."""
    patrol = session.get(Patrol, act.id)
    return patrol is not None and bool(patrol.reason)


def warning_info(warning: FeedWarning, decision: Decision) -> WarningInfo:
    """What the response needs of a feed warning (its villages decided by the area rules)."""
    assert warning.colour is not None
    return WarningInfo(
        identifier=warning.identifier,
        hazard=warning.hazard or "rainstorm",
        colour=warning.colour,
        headline=warning.headline or warning.event,
        description=warning.description,
        sender=warning.sender,
        sent=warning.sent,
        status=warning.status,
        area_desc=warning.area_desc,
        village_codes=decision.village_codes,
    )
