"""Recording what a poll of a feed said, and the responses no warning holds any more.

The domain side of the rain watch, with ``polling`` (one poll of a feed) and ``pending``
(decisions still to carry out), whose names are importable from here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlmodel import Session, col, select

from sanqing.feeds.chains import DRILL_STATUSES, HOLDING_ACTIONS, holders
from sanqing.feeds.model import Action, Decision, FeedWarning, ParseFailure, ParseResult
from sanqing.feeds.pending import (
    ACTING,
    LEFT_ALONE_NOTE,
    Pending,
    Withdrawn,
    left_alone,
    mark_done,
    pending_decisions,
    why_not_carried_out,
    withdraw_stale,
)
from sanqing.feeds.polling import MAX_LINKS_PER_POLL, poll, remember_feeds
from sanqing.feeds.store import ingest, record_rejection
from sanqing.models import Activation, ActivationStatus, FeedRecord, FeedState, Patrol, utcnow
from sanqing.plans import Plan
from sanqing.warning import WarningInfo

__all__ = [
    "ACTING",
    "DATA_ERRORS",
    "LEFT_ALONE_NOTE",
    "MAX_LINKS_PER_POLL",
    "WARNING_FAULTS",
    "Decided",
    "Pending",
    "Withdrawn",
    "expired_responses",
    "hold_write_lock",
    "ingest_results",
    "left_alone",
    "mark_done",
    "pending_decisions",
    "poll",
    "remember_feeds",
    "warning_info",
    "why_not_carried_out",
    "withdraw_stale",
]

log = logging.getLogger(__name__)

#: What a bad warning can raise while it is decided and stored: it becomes a ``reject``.
WARNING_FAULTS = (ValueError, TypeError, ArithmeticError, StatementError)
#: Errors of the database that the data of one warning causes (others are the database's
#: own trouble: they fail the poll, which is retried, and nothing is lost).
DATA_ERRORS = (DataError, IntegrityError)


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
