"""Storing a warning and its decision (``FeedRecord``), reading a stored decision back, and refusals.

``record`` stores the warning and marks the chain it ends or supersedes; ``ingest``
decides and records in one step; ``record_rejection`` keeps a document that could not
be read, with its reason, so that nothing a feed sent is lost.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from sanqing.db import upsert
from sanqing.feeds.assessment import Assessment
from sanqing.feeds.chains import (
    ACTING_ACTIONS,
    DRILL_STATUSES,
    HOLDING_ACTIONS,
    REAL_STATUSES,
    aware,
    ended_by,
    ended_by_why,
    ends_warnings,
    find_duplicate,
    is_drill,
    record_id,
    referenced_back,
    referenced_chain,
    withdraw,
)
from sanqing.feeds.decide import assess
from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.models import Activation, FeedRecord
from sanqing.plans import Plan
from sanqing.response import open_activation

# --- records --------------------------------------------------------------------------------


def record(
    *,
    session: Session,
    warning: FeedWarning,
    decision: Decision,
    now: datetime,
    activation_id: str | None = None,
    targets: list[str] | None = None,
) -> FeedRecord:
    """Store the warning and its decision (once: a second call leaves the first record).

    The record keeps the whole decision (``decision_of`` rebuilds it) and is
    ``done=False`` when the decision must be carried out (activate, escalate,
    downgrade, stand_down): the caller marks it done once it has. ``targets``: the
    activations a stand-down or downgrade acts on (``targets_of``).

    A repeat decided again because its area is wider (see ``decide._wider_repeat``) updates
    the stored record in place: the new decision (over both areas), and the stored
    warning's geocodes, polygons and circles become the union of both arrivals'.

    A cancel or all-clear that was acted on or ignored (not a duplicate, not a draft)
    marks the chain of warnings it ends ``ended``, and itself too; so does a message
    that a cancel or all-clear received before it reaches (``ended_by``): it ties what
    it references to that end. A record holds a town's response (for later cancels and
    downgrades) when its action is activate, escalate, downgrade, or an ignore that
    names towns and a level (the running response continues); ignores for any other
    reason name no towns.
    """
    now = aware(now)
    rid = record_id(warning.sender, warning.identifier)
    stored = warning.model_dump(mode="json")
    refresh: list[str] = []
    existing = find_duplicate(session, warning)
    if existing is not None:
        if not _widens(existing, decision):
            return existing
        rid = existing.id
        stored = _union_area(existing.warning or {}, stored)
        refresh = list(_WIDENED_COLUMNS)
    status_counts = warning.status.strip().lower() in REAL_STATUSES | DRILL_STATUSES
    end = _end_over(session, warning, decision) if status_counts else None
    row = _row(
        rid,
        warning=warning,
        stored=stored,
        decision=decision,
        activation_id=activation_id,
        targets=targets,
        ended=end is not None,
        now=now,
    )
    upsert(session, FeedRecord, [row], update=refresh)
    if end is not None and warning.references:
        _end_chain(session, warning, rid=rid, end=end)
    elif _update_holds(warning, decision) and status_counts:
        _supersede_chain(session, warning, rid=rid)
    session.flush()
    rec = session.get(FeedRecord, rid, populate_existing=True)
    assert rec is not None
    return rec


#: What a repeat over a wider area rewrites of its stored record.
_WIDENED_COLUMNS = (
    "warning",
    "action",
    "reason",
    "drill",
    "level",
    "town_codes",
    "village_codes",
    "done",
    "targets",
)


def _widens(existing: FeedRecord, decision: Decision) -> bool:
    """Whether a repeat's decision covers villages its stored, running record does not."""
    return not (
        decision.action in (Action.DUPLICATE, Action.REJECT)
        or existing.ended
        or set(decision.village_codes) <= set(existing.village_codes)
    )


def _end_over(session: Session, warning: FeedWarning, decision: Decision) -> tuple[str, str] | None:
    """The end this message is or comes under, as ``(msg_type, identifier)``, or None.

    A cancel or all-clear, or one received before it that reaches it (``ended_by``): it
    ends what the message references.
    """
    if decision.action in (Action.DUPLICATE, Action.REJECT):
        return None
    if ends_warnings(warning):
        return (warning.msg_type, warning.identifier)
    earlier_end = ended_by(session, sender=warning.sender, identifier=warning.identifier)
    if earlier_end is not None:
        return (earlier_end.msg_type, earlier_end.identifier)
    return None


def _row(
    rid: str,
    *,
    warning: FeedWarning,
    stored: dict[str, Any],
    decision: Decision,
    activation_id: str | None,
    targets: list[str] | None,
    ended: bool,
    now: datetime,
) -> dict[str, Any]:
    """The ``FeedRecord`` columns of a warning and its decision."""
    return {
        "id": rid,
        "identifier": warning.identifier,
        "sender": warning.sender,
        "source_format": warning.source_format.value,
        "source": warning.source,
        "msg_type": warning.msg_type,
        "status": warning.status,
        "hazard": warning.hazard,
        "colour": warning.colour.value if warning.colour else None,
        "sent": warning.sent,
        "expires": warning.expires,
        "warning": stored,
        "action": decision.action.value,
        "reason": decision.reason,
        "drill": decision.drill,
        "level": decision.level.value if decision.level else None,
        "town_codes": list(decision.town_codes),
        "village_codes": sorted(decision.village_codes),
        "activation_id": activation_id,
        "targets": targets,
        "done": decision.action not in ACTING_ACTIONS,
        "ended": ended,
        "received_at": now,
    }


def _end_chain(session: Session, warning: FeedWarning, *, rid: str, end: tuple[str, str]) -> None:
    """Mark ended the chain the message's end reaches, and withdraw what it never carried out."""
    chain = [r for r in referenced_chain(session, warning.references) if r.id != rid]
    if chain:
        session.execute(
            update(FeedRecord)
            .where(col(FeedRecord.id).in_([r.id for r in chain]))
            .values(ended=True)
        )
        # A chain never carried out starts nothing after its cancel or all-clear.
        withdraw(session, chain, why=ended_by_why(*end))


def _supersede_chain(session: Session, warning: FeedWarning, *, rid: str) -> None:
    """Withdraw what an update references and never carried out: the update stands for it.

    Their starts still to do give way to its own decision (one activation, at the
    update's level).
    """
    earlier = [r for r in referenced_back(session, warning.references) if r.id != rid]
    withdraw(
        session,
        earlier,
        why=f"superseded by update {warning.identifier} before it was carried out",
    )


def _update_holds(warning: FeedWarning, decision: Decision) -> bool:
    """An update whose decision holds a response (see ``holds``): it supersedes."""
    return (
        warning.msg_type.strip().lower() == "update"
        and bool(warning.references)
        and decision.action in HOLDING_ACTIONS
        and decision.level is not None
        and bool(decision.town_codes)
    )


def _union_area(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The stored warning ``new`` with the area parts of ``old`` it lacks added."""
    out = dict(new)
    for key in ("geocodes", "polygons", "circles"):
        merged = list(old.get(key) or [])
        merged += [x for x in new.get(key) or [] if x not in merged]
        out[key] = merged
    return out


def ingest(*, session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Decision:
    """Decide on the warning and record it (a duplicate is not recorded again)."""
    assessment = assess(session=session, warning=warning, plan=plan, now=now)
    decision = assessment.decision
    if decision.action != Action.DUPLICATE:
        record(
            session=session,
            warning=warning,
            decision=decision,
            now=now,
            targets=targets_of(assessment),
        )
    return decision


def targets_of(assessment: Assessment) -> list[str] | None:
    """The open activations a stand-down or downgrade acts on (None for anything else).

    Carried out later (a failed run, a preview), it acts on these and on no other: a
    response opened since (the commander stood the old one down by hand and started
    anew) is not the one the warning's end was decided for.
    """
    action = assessment.decision.action
    if action not in (Action.STAND_DOWN, Action.DOWNGRADE):
        return None
    return sorted(
        {t.activation_id for t in assessment.towns if t.action == action and t.activation_id}
    )


def record_rejection(
    *,
    session: Session,
    source: str,
    identifier: str | None,
    reason: str,
    now: datetime,
    source_format: str = "",
    sender: str = "",
) -> FeedRecord:
    """Store a warning (or document) that could not be read, as a ``reject`` with its reason.

    Keyed by source, identifier and reason, so the same bad input polled again is
    stored once; a corrected warning with the same identifier is not a duplicate of it.
    """
    now = aware(now)
    digest = hashlib.sha256(
        f"{source}\x00{sender}\x00{identifier}\x00{reason}".encode()
    ).hexdigest()
    # What was refused may hold U+0000 (JSON does), which PostgreSQL cannot store.
    source, sender, reason = (_printable(t) for t in (source, sender, reason))
    identifier = _printable(identifier) if identifier is not None else None
    rid = f"reject|{(identifier or '')[:80]}|{digest[:16]}"
    upsert(
        session,
        FeedRecord,
        [
            {
                "id": rid,
                "identifier": identifier or "",
                "sender": sender,
                "source_format": source_format,
                "source": source,
                "msg_type": "",
                "status": "",
                "warning": {},
                "action": Action.REJECT.value,
                "reason": reason,
                "drill": False,
                "town_codes": [],
                "village_codes": [],
                "received_at": now,
            }
        ],
    )
    session.flush()
    rec = session.get(FeedRecord, rid, populate_existing=True)
    assert rec is not None
    return rec


def _printable(text: str) -> str:
    return text.replace("\x00", "\\x00")


def open_activation_of(
    session: Session, *, town_code: str, plan: Plan, warning: FeedWarning
) -> Activation | None:
    """The town's running activation a warning of this status acts on (real or drill)."""
    return open_activation(session, town_code=town_code, plan=plan.plan, drill=is_drill(warning))
