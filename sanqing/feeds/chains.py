"""Warnings and the chains they form: identities, references, what ends, supersedes or holds.

A warning's record id comes from its sender and identifier; an Update or Cancel
references earlier messages, and with them their whole chain. Here: who references
whom, what a Cancel or all-clear ends, what an Update supersedes, which recorded
warnings are still in force and the level they need, and withdrawing decisions
never carried out. Reads and marks ``FeedRecord`` rows; decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from sanqing.errors import PlanConfigError
from sanqing.feeds.model import Action, Decision, FeedWarning, Reference
from sanqing.models import FeedRecord
from sanqing.plans import Level, Plan

REAL_STATUSES = frozenset({"actual"})
DRILL_STATUSES = frozenset({"exercise", "test"})
IGNORED_STATUSES = frozenset({"draft", "system"})
MESSAGE_TYPES = frozenset({"alert", "update", "cancel"})
#: Decisions after which a record holds (started, changed or rode along) a town's response.
HOLDING_ACTIONS = (Action.ACTIVATE, Action.ESCALATE, Action.DOWNGRADE, Action.IGNORE)
#: Decisions the caller must carry out; their record stays ``done=False`` until it has.
ACTING_ACTIONS = (Action.ACTIVATE, Action.ESCALATE, Action.DOWNGRADE, Action.STAND_DOWN)
#: Decisions a later update, cancel or all-clear withdraws while they are still to do.
WITHDRAWABLE = (Action.ACTIVATE, Action.ESCALATE, Action.DOWNGRADE)
#: Appended to the reason of a withdrawn decision (the record stays, as history).
WITHDRAWN_NOTE = "（未执行，已撤回 withdrawn: {why}）"
#: Every reason of a decision about drills starts with this, and only those: the reader
#: sees it, and records stored before ``FeedRecord.drill`` existed still say it.
DRILL_PREFIX = "drill ("


# --- identities -----------------------------------------------------------------------------


def record_id(sender: str, identifier: str) -> str:
    """The FeedRecord key of a warning: ``sender|identifier`` (identifier alone without sender)."""
    return f"{sender}|{identifier}" if sender else identifier


def is_drill(warning: FeedWarning) -> bool:
    return warning.status.strip().lower() in DRILL_STATUSES


def record_is_drill(rec: FeedRecord) -> bool:
    return rec.status.strip().lower() in DRILL_STATUSES


def record_ends(rec: FeedRecord) -> bool:
    """A recorded Cancel or all-clear."""
    types = (rec.warning or {}).get("response_types") or []
    return rec.msg_type.strip().lower() == "cancel" or any(
        isinstance(t, str) and t.lower() == "allclear" for t in types
    )


def ends_warnings(warning: FeedWarning) -> bool:
    """A Cancel, or an all-clear: it ends what it references rather than starting anything."""
    return warning.msg_type.strip().lower() == "cancel" or warning.all_clear


def _same_message(sender_a: str, id_a: str, sender_b: str, id_b: str) -> bool:
    return id_a == id_b and (not sender_a or not sender_b or sender_a == sender_b)


def find_duplicate(session: Session, warning: FeedWarning) -> FeedRecord | None:
    """The record of this same warning, received before (rejections do not count)."""
    rows = session.exec(
        select(FeedRecord)
        .where(FeedRecord.identifier == warning.identifier, FeedRecord.action != Action.REJECT)
        .order_by(col(FeedRecord.received_at), col(FeedRecord.id))
    ).all()
    exact = [r for r in rows if r.id == record_id(warning.sender, warning.identifier)]
    if exact:
        return exact[0]
    return next(
        (
            r
            for r in rows
            if _same_message(r.sender, r.identifier, warning.sender, warning.identifier)
        ),
        None,
    )


# --- chains of warnings ---------------------------------------------------------------------


def _stored_refs(rec: FeedRecord) -> list[tuple[str, str]]:
    out = []
    for ref in (rec.warning or {}).get("references") or []:
        if isinstance(ref, dict) and ref.get("identifier"):
            out.append((str(ref.get("sender") or ""), str(ref["identifier"])))
    return out


def _lookup(session: Session, refs: Iterable[tuple[str, str]]) -> list[FeedRecord]:
    refs = list(refs)
    if not refs:
        return []
    rows = session.exec(
        select(FeedRecord).where(
            col(FeedRecord.identifier).in_(sorted({i for _, i in refs})),
            FeedRecord.action != Action.REJECT,
        )
    ).all()
    return [r for r in rows if any(_same_message(s, i, r.sender, r.identifier) for s, i in refs)]


def _followers(session: Session) -> list[FeedRecord]:
    """The recorded updates and cancels (the records that reference others)."""
    return list(
        session.exec(
            select(FeedRecord).where(
                func.lower(FeedRecord.msg_type).in_(["update", "cancel"]),
                FeedRecord.action != Action.REJECT,
            )
        )
    )


def referenced_chain(session: Session, references: Sequence[Reference]) -> list[FeedRecord]:
    """The recorded warnings ``references`` name, with their whole chain, sorted by id.

    The chain: what they reference in turn, and the updates and cancels that reference
    any of them (an update superseding a cancelled alert belongs to the same event).
    """
    chain: dict[str, FeedRecord] = {}
    frontier = [(r.sender, r.identifier) for r in references]
    followers: list[FeedRecord] | None = None
    while True:
        new = [r for r in _lookup(session, frontier) if r.id not in chain]
        for r in new:
            chain[r.id] = r
        frontier = [ref for r in new for ref in _stored_refs(r)]
        if frontier:
            continue
        if not chain:
            return []
        if followers is None:
            followers = _followers(session)
        added = False
        for f in followers:
            if f.id in chain:
                continue
            if any(
                _same_message(s, i, c.sender, c.identifier)
                for s, i in _stored_refs(f)
                for c in chain.values()
            ):
                chain[f.id] = f
                frontier.extend(_stored_refs(f))
                added = True
        if not added and not frontier:
            return sorted(chain.values(), key=lambda r: r.id)


def holds(rec: FeedRecord) -> bool:
    """Whether a record started, changed or rode along a town's response (see ``record``)."""
    return rec.action in HOLDING_ACTIONS and rec.level is not None and bool(rec.town_codes)


def _supersedes(rec: FeedRecord) -> bool:
    """Whether a recorded update or cancel stands for (or ends) the warnings it references.

    A cancel or all-clear of a status that counts does; an update only when it holds a
    response itself (see ``holds``): an update that was ignored for want of a colour or
    of a flood hazard leaves what it references in force until it expires or ends.
    """
    if rec.status.strip().lower() not in REAL_STATUSES | DRILL_STATUSES:
        return False
    return record_ends(rec) or holds(rec)


def referenced_back(session: Session, references: Sequence[Reference]) -> list[FeedRecord]:
    """The recorded warnings ``references`` name, and what those reference in turn (no followers)."""
    found: dict[str, FeedRecord] = {}
    frontier = [(r.sender, r.identifier) for r in references]
    while frontier:
        new = [r for r in _lookup(session, frontier) if r.id not in found]
        found.update((r.id, r) for r in new)
        frontier = [ref for r in new for ref in _stored_refs(r)]
    return sorted(found.values(), key=lambda r: r.id)


def _reach(end: FeedRecord, followers: Sequence[FeedRecord]) -> set[tuple[str, str]]:
    """What a recorded message names, directly or through the recorded messages it names.

    ``followers`` are the recorded updates and cancels (``_followers``): the only records
    that name others. Each one reached counts whatever its own decision: an update that was
    ignored (say, "already cancelled") still ties the cancel to what it updates.
    """
    reached: set[tuple[str, str]] = set()
    frontier = _stored_refs(end)
    while frontier:
        new = [ref for ref in frontier if ref not in reached]
        reached.update(new)
        frontier = [
            ref
            for f in followers
            if f.id != end.id and any(_same_message(s, i, f.sender, f.identifier) for s, i in new)
            for ref in _stored_refs(f)
        ]
    return reached


def _ends(rec: FeedRecord) -> bool:
    """A recorded cancel or all-clear of a status that counts: it ends what it reaches."""
    return rec.status.strip().lower() in REAL_STATUSES | DRILL_STATUSES and record_ends(rec)


def _ended_refs(followers: Sequence[FeedRecord]) -> list[tuple[str, str]]:
    """Every message a recorded cancel or all-clear ends (see ``ended_by``)."""
    return [ref for f in followers if _ends(f) for ref in _reach(f, followers)]


def ended_by(session: Session, *, sender: str, identifier: str) -> FeedRecord | None:
    """The recorded cancel or all-clear that ends this warning, or None.

    It ends it when it references it directly or through other recorded messages, in
    whatever order they arrived: a cancel that names only the update ends the alert the
    update references too, even when the alert came last (an index listing the newest
    first) and the update was ignored as "already cancelled".
    """
    own = record_id(sender, identifier)
    followers = _followers(session)
    for f in sorted(followers, key=lambda r: (r.received_at, r.id)):
        if f.id == own or not _ends(f):
            continue
        if any(_same_message(s, i, sender, identifier) for s, i in _reach(f, followers)):
            return f
    return None


def superseded_by(session: Session, *, sender: str, identifier: str) -> FeedRecord | None:
    """The recorded cancel/all-clear that ends this warning (``ended_by``), else the
    recorded update holding a response that references it."""
    end = ended_by(session, sender=sender, identifier=identifier)
    if end is not None:
        return end
    own = record_id(sender, identifier)
    for f in sorted(_followers(session), key=lambda r: (r.received_at, r.id)):
        if (
            f.id != own
            and _supersedes(f)
            and any(_same_message(s, i, sender, identifier) for s, i in _stored_refs(f))
        ):
            return f
    return None


def withdraw(session: Session, records: Iterable[FeedRecord], *, why: str) -> list[str]:
    """Mark the records' decisions still to carry out as done without carrying them out.

    Only starts and level changes (activate, escalate, downgrade) are withdrawn: a
    stand-down still to do stays (it ends something that may be running). The record
    stays as history; its reason says that, and why, it was withdrawn.
    """
    out = []
    for rec in records:
        if rec.done or rec.action not in WITHDRAWABLE:
            continue
        rec.done = True
        rec.reason = f"{rec.reason}{WITHDRAWN_NOTE.format(why=why)}"
        session.add(rec)
        out.append(rec.id)
    if out:
        session.flush()
    return out


def withdrawn_why(rec: FeedRecord) -> str | None:
    """Why a record's decision was withdrawn (see ``withdraw``), or None when it was not."""
    opening, closing = WITHDRAWN_NOTE.split("{why}")
    _, sep, tail = rec.reason.rpartition(opening)
    return tail.removesuffix(closing) if sep else None


def not_live(session: Session, rec: FeedRecord, *, now: datetime) -> str | None:
    """Why a record's start or level change must not be carried out any more, or None.

    Its warning ended (cancelled, all-clear, expired by the watch), expired at ``now``,
    was superseded by an update recorded since, or is reached by a cancel or all-clear
    recorded since, directly or through the messages between them (``ended_by``). A
    cancel's or an all-clear's own decision (a stand-down, a downgrade) always stands.
    """
    if record_ends(rec) or rec.action not in WITHDRAWABLE:
        return None
    later = superseded_by(session, sender=rec.sender, identifier=rec.identifier)
    if later is not None:
        return _superseded_why(later)
    if rec.ended:
        return f"its warning {rec.identifier} has ended (cancelled, all-clear or expired)"
    if rec.expires is not None and rec.expires <= now:
        return f"its warning {rec.identifier} expired at {rec.expires.isoformat()}"
    return None


def _superseded_why(later: FeedRecord) -> str:
    if record_ends(later):
        return ended_by_why(later.msg_type, later.identifier)
    return f"superseded by update {later.identifier} before it was carried out"


def ended_by_why(msg_type: str, identifier: str) -> str:
    what = "cancel" if msg_type.strip().lower() == "cancel" else "all-clear"
    return f"the {what} {identifier} ended the warning before it was carried out"


def holders(
    session: Session, *, town_code: str, drill: bool, now: datetime, exclude: Iterable[str] = ()
) -> list[FeedRecord]:
    """The warnings in force that hold the town's response.

    In force: not ended, not expired, and not superseded by a recorded Update that holds
    a response itself (see ``_supersedes``), nor ended by a Cancel/all-clear that
    reaches it (``ended_by``); an update stands for the warnings it references from then on.
    """
    skip = set(exclude)
    rows = session.exec(
        select(FeedRecord).where(
            FeedRecord.ended == False,  # noqa: E712 - SQL expression
            col(FeedRecord.action).in_([a.value for a in HOLDING_ACTIONS]),
            col(FeedRecord.level).is_not(None),
        )
    ).all()
    followers = _followers(session)
    superseding = _ended_refs(followers) + [
        ref for f in followers if _supersedes(f) for ref in _stored_refs(f)
    ]
    return [
        r
        for r in rows
        if r.id not in skip
        and not any(_same_message(s, i, r.sender, r.identifier) for s, i in superseding)
        and town_code in r.town_codes
        and record_is_drill(r) == drill
        and (r.expires is None or r.expires > now)
    ]


def needed_level(plan: Plan, rec: FeedRecord) -> Level | None:
    """The level a recorded warning asks for (from its hazard and colour; else its decision)."""
    if rec.hazard and rec.colour:
        try:
            return plan.level_for_warning(rec.hazard, rec.colour)
        except PlanConfigError:
            pass
    return Level(rec.level) if rec.level else None


def max_holder(plan: Plan, records: Sequence[FeedRecord]) -> tuple[FeedRecord, Level] | None:
    """The holder that asks for the highest level, and that level."""
    best: tuple[FeedRecord, Level] | None = None
    for r in records:
        lv = needed_level(plan, r)
        if lv is not None and (best is None or lv.rank > best[1].rank):
            best = (r, lv)
    return best


def aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: decisions need a timezone-aware 'now'")
    return now


def decision_of(record: FeedRecord) -> Decision:
    """The decision a record stores (``record``), rebuilt: action, reason, level, towns,
    villages and ``drill`` (its column; for a record older than the column, whether its
    reason starts with ``DRILL_PREFIX``, as only a decision about drills does).
    """
    return Decision(
        action=Action(record.action),
        reason=record.reason,
        level=Level(record.level) if record.level else None,
        town_codes=list(record.town_codes),
        village_codes=sorted(record.village_codes),
        drill=record.drill if record.drill is not None else record.reason.startswith(DRILL_PREFIX),
    )
