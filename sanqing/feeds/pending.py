"""Decisions stored but not yet carried out: reading them, withdrawing stale ones, marking them done.

A decision is carried out later than it was taken (a crash, a failed run, a preview
without --respond): just before, it is checked again, and one whose warning has since
expired, ended or been superseded is withdrawn (marked done, with why) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.feeds.chains import decision_of, not_live, withdraw, withdrawn_why
from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.models import Activation, FeedRecord, utcnow

#: Decisions that something must be done about.
ACTING = (Action.ACTIVATE, Action.ESCALATE, Action.DOWNGRADE, Action.STAND_DOWN)


@dataclass(frozen=True)
class Pending:
    """A stored decision not yet carried out (a crash, a failed run, a preview without --respond)."""

    record_id: str
    warning: FeedWarning
    decision: Decision
    #: The activations a stand-down or downgrade was decided for (``store.targets_of``);
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
    been superseded (see ``chains.not_live``): it is not carried out. Returns them."""
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
