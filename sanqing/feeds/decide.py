"""The decision on one warning, over the registry and what earlier warnings started.

``decide`` reads the database and writes nothing; ``record`` stores the warning and
its decision in ``FeedRecord`` (and marks the warnings a cancel or all-clear ends);
``ingest`` does both. Nothing here starts a flow: the caller acts on the decision
(``activate``/``escalate``: run the flood response, whose ``activate_plan`` opens or
continues the town's one activation; ``downgrade``: ``response.set_level``;
``stand_down``: ``response.stand_down``). ``assess`` gives the same decision with
the detail per town (action, target level, open activation), for warnings that
span several towns.

Rules, in order:

1. The same warning again (same identifier, and same sender when both have one)
   is a ``duplicate``: nothing changes and it is not recorded again. Except a repeat
   whose area covers villages the stored record does not (QWeather: the same alert
   id from two location feeds): while the warning has not ended, it is decided again
   over both areas together (rules 4-6: it widens the response) and its record is
   updated in place.
2. Status ``Draft``/``System`` (or an unknown status), and message types other than
   Alert/Update/Cancel, are ``ignore``d.
3. A ``Cancel``, or an Update (or Alert) with responseType ``AllClear``, ends the
   warnings it references, and with them their whole chain (what they reference,
   and the updates that reference them). Every town those warnings started or
   continued a response for stands down, unless another warning still in force
   (not ended, not expired) holds it: then it is downgraded to that warning's
   level if that is lower, else left running (``ignore``). Unknown references,
   or no running response: ``ignore``. A cancel is never "expired".
3b. An Alert or Update that a recorded Update (holding a response) already references,
   or that a recorded Cancel/all-clear reaches — references directly or through other
   recorded messages, whatever their own decision (``ended_by``) — is ``ignore``d: the
   newer message came in first, as from an index listing the newest first, and stands
   for it. Except a message that only now ties an end to a response already running (a
   cancel naming the update, the alert started, then the update): that response stands
   down (rule 3, on behalf of the end).
4. An Alert or Update already expired at ``now``, without a flood-plan hazard
   (or one the plan has no levels for), or without a colour, is ``ignore``d; so is
   one that covers no registered village.
5. Per covered town, against its open activation (real or drill, as the warning):
   none → ``activate``; the plan level of the warning is higher → ``escalate``;
   equal, or lower without being a downgrade (below) → ``escalate`` when the
   warning adds villages the activation does not answer for yet (the caller's
   ``activate_plan`` widens it and never lowers the level), else ``ignore``
   ("the running response continues"). A lower level is a ``downgrade`` only for
   an Update whose chain holds that activation and when no other warning in
   force needs a higher level: a new, milder Alert never lowers a response
   another warning started.
6. The warning's decision is the strongest of its towns' actions
   (activate > escalate > downgrade > ignore; for ends: stand_down > downgrade >
   ignore), with ``town_codes``/``village_codes`` of everything it covers
   (for a stand-down or a downgrade after a cancel: the towns concerned, and their
   villages). ``level`` is the plan level of the warning's hazard and colour,
   except for a downgrade: the level the response goes down to.

Decisions still to carry out follow their chain (``record``): an Update that holds a
response supersedes the pending starts and level changes of what it references (an
update to red of a pending orange activation leaves one activation, the update's, at
level I), and a Cancel/all-clear withdraws those of the chain it ends (nothing starts
after the all-clear). Withdrawn records stay as history, ``done`` with a reason that
says so (``withdraw``). Just before a decision is carried out, ``not_live`` checks
again that its warning has not ended, expired or been superseded since. A stand-down
or a downgrade keeps the activations it was decided for (``targets_of``): carried out
later, it acts on those only, never on a response opened since.

"In force" (for rules 3 and 5): a recorded warning that holds the town (see
``record``), not ended, not expired, not superseded by a recorded Update that
itself holds a response (an update ignored for want of a colour or a flood hazard
supersedes nothing), and not reached by a recorded Cancel/all-clear; the level it
needs is the plan level of its hazard and colour.

``Exercise``/``Test`` warnings follow the same rules against drill activations.
``Decision.drill`` says whether the activations concerned are drills: for an Alert
or Update its own status; for a Cancel or all-clear the status of the chain it ends
(an ``Actual`` cancel of an ``Exercise`` alert stands down the drill, never the real
response). A chain mixing drill and real warnings is decided as the cancel's own
status; its towns of the other kind are ``ignore``d (the one decision carries one
flag) and the reason says so. The reason of a decision about drills, and only of
one, starts with ``DRILL_PREFIX`` ("drill (<status>): "): that is how a stored
record keeps the flag (``decision_of``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.errors import PlanConfigError
from sanqing.feeds.area import Coverage, covered_villages
from sanqing.feeds.model import Action, Decision, FeedWarning, Reference
from sanqing.models import Activation, FeedRecord, Town, Village
from sanqing.plans import Level, Plan
from sanqing.response import open_activation

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
#: Every reason of a decision about drills starts with this, and only those: it is how a
#: stored decision keeps its ``drill`` flag (``FeedRecord`` has no column for it).
DRILL_PREFIX = "drill ("
_STRENGTH = {
    Action.ACTIVATE: 4,
    Action.STAND_DOWN: 4,
    Action.ESCALATE: 3,
    Action.DOWNGRADE: 2,
    Action.IGNORE: 1,
}


@dataclass(frozen=True)
class TownDecision:
    """What a warning means for one town."""

    town_code: str
    action: Action
    reason: str
    level: Level | None = None  # the level the town's response should have after it
    village_codes: list[str] = field(default_factory=list)
    activation_id: str | None = None  # the open activation it acts on, if any


@dataclass(frozen=True)
class Assessment:
    """The decision on a warning, with its detail per town and the area matching."""

    decision: Decision
    towns: list[TownDecision] = field(default_factory=list)
    coverage: Coverage | None = None


# --- identities -----------------------------------------------------------------------------


def record_id(sender: str, identifier: str) -> str:
    """The FeedRecord key of a warning: ``sender|identifier`` (identifier alone without sender)."""
    return f"{sender}|{identifier}" if sender else identifier


def is_drill(warning: FeedWarning) -> bool:
    return warning.status.strip().lower() in DRILL_STATUSES


def _record_is_drill(rec: FeedRecord) -> bool:
    return rec.status.strip().lower() in DRILL_STATUSES


def _record_ends(rec: FeedRecord) -> bool:
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


def _holds(rec: FeedRecord) -> bool:
    """Whether a record started, changed or rode along a town's response (see ``record``)."""
    return rec.action in HOLDING_ACTIONS and rec.level is not None and bool(rec.town_codes)


def _supersedes(rec: FeedRecord) -> bool:
    """Whether a recorded update or cancel stands for (or ends) the warnings it references.

    A cancel or all-clear of a status that counts does; an update only when it holds a
    response itself (see ``_holds``): an update that was ignored for want of a colour or
    of a flood hazard leaves what it references in force until it expires or ends.
    """
    if rec.status.strip().lower() not in REAL_STATUSES | DRILL_STATUSES:
        return False
    return _record_ends(rec) or _holds(rec)


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
    return rec.status.strip().lower() in REAL_STATUSES | DRILL_STATUSES and _record_ends(rec)


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
    if _record_ends(rec) or rec.action not in WITHDRAWABLE:
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
    if _record_ends(later):
        return _ended_by(later.msg_type, later.identifier)
    return f"superseded by update {later.identifier} before it was carried out"


def _ended_by(msg_type: str, identifier: str) -> str:
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
        and _record_is_drill(r) == drill
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


def _max_holder(plan: Plan, records: Sequence[FeedRecord]) -> tuple[FeedRecord, Level] | None:
    """The holder that asks for the highest level, and that level."""
    best: tuple[FeedRecord, Level] | None = None
    for r in records:
        lv = needed_level(plan, r)
        if lv is not None and (best is None or lv.rank > best[1].rank):
            best = (r, lv)
    return best


# --- the decision ---------------------------------------------------------------------------


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: decisions need a timezone-aware 'now'")
    return now


def _prefix(warning: FeedWarning) -> str:
    return f"{DRILL_PREFIX}{warning.status}): " if is_drill(warning) else ""


def _ignore(warning: FeedWarning, reason: str) -> Assessment:
    return Assessment(
        Decision(action=Action.IGNORE, reason=_prefix(warning) + reason, drill=is_drill(warning))
    )


def _strongest(towns: Sequence[TownDecision]) -> Action:
    return max((t.action for t in towns), key=lambda a: _STRENGTH[a])


def _summary(towns: Sequence[TownDecision]) -> str:
    return "; ".join(f"{t.town_code}: {t.action.value}, {t.reason}" for t in towns)


def assess(*, session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Assessment:
    """The decision on ``warning`` with its detail per town; reads the database only."""
    now = _aware(now)
    dup = find_duplicate(session, warning)
    wider: Coverage | None = None
    if dup is not None:
        wider = _wider_repeat(session, warning, plan, now, dup)
        if wider is None:
            before = decision_of(dup)
            prefix = dup.reason.split("): ", 1)[0] + "): " if before.drill else ""
            return Assessment(
                Decision(
                    action=Action.DUPLICATE,
                    reason=(
                        f"{prefix}already received at {dup.received_at.isoformat()} "
                        f"(decided {dup.action}): nothing changes"
                    ),
                    level=before.level,
                    town_codes=before.town_codes,
                    village_codes=before.village_codes,
                    drill=before.drill,
                )
            )
    status = warning.status.strip().lower()
    if status in IGNORED_STATUSES:
        return _ignore(warning, f"status {warning.status}: recorded, never acted on")
    if status not in REAL_STATUSES | DRILL_STATUSES:
        return _ignore(warning, f"unknown status {warning.status!r}: recorded, not acted on")
    msg_type = warning.msg_type.strip().lower()
    if msg_type not in MESSAGE_TYPES:
        return _ignore(warning, f"message type {warning.msg_type!r} carries no warning")
    if ends_warnings(warning):
        return _assess_end(session, warning, plan, now)
    later = superseded_by(session, sender=warning.sender, identifier=warning.identifier)
    if later is not None:
        # An index listing the newest message first: its update or cancel came in first.
        if _record_ends(later):
            late = _late_end(session, warning, plan, now, later)
            if late is not None:
                return late
        what = "cancelled" if _record_ends(later) else "superseded"
        return _ignore(
            warning, f"already {what} by {later.identifier}, received before it: starts nothing"
        )
    if warning.expires is not None and warning.expires < now:
        return _ignore(warning, f"already expired at {warning.expires.isoformat()}")
    if warning.hazard is None:
        what = warning.event or warning.event_code or warning.headline or "?"
        return _ignore(warning, f"not a hazard of the {plan.plan} plan (event {what!r})")
    if warning.hazard not in plan.warning_levels:
        known = ", ".join(sorted(plan.warning_levels))
        return _ignore(
            warning, f"hazard {warning.hazard!r} has no levels in the {plan.plan} plan ({known})"
        )
    if warning.colour is None:
        return _ignore(warning, "no warning colour: the level cannot be told")
    level = plan.level_for_warning(warning.hazard, warning.colour)
    coverage = wider or _coverage(session, warning)
    if coverage.empty:
        a = _ignore(warning, "covers no village in the registry")
        return Assessment(a.decision, coverage=coverage)
    drill = is_drill(warning)
    chain = referenced_chain(session, warning.references) if msg_type == "update" else []
    chain_ids = {r.id for r in chain}
    decisions = [
        _assess_town(
            session,
            warning=warning,
            plan=plan,
            now=now,
            level=level,
            town_code=town_code,
            villages=[c for c in coverage.village_codes if c.startswith(town_code)],
            chain=chain,
            chain_ids=chain_ids,
            drill=drill,
        )
        for town_code in coverage.town_codes
    ]
    action = _strongest(decisions)
    label = f"{warning.hazard} {warning.colour.value} → level {level.value}"
    if action == Action.DOWNGRADE:
        # what the downgraded towns go to (another warning in force may keep it above ours)
        level = max(
            (t.level for t in decisions if t.action == action and t.level is not None),
            key=lambda lv: lv.rank,
            default=level,
        )
    if len(decisions) == 1:
        reason = f"{label}: {decisions[0].reason}"
    else:
        reason = f"{label}: {_summary(decisions)}"
    if coverage.notes:
        reason += " [" + "; ".join(coverage.notes) + "]"
    return Assessment(
        Decision(
            action=action,
            reason=_prefix(warning) + reason,
            level=level,
            town_codes=coverage.town_codes,
            village_codes=coverage.village_codes,
            drill=drill,
        ),
        towns=decisions,
        coverage=coverage,
    )


def _coverage(session: Session, warning: FeedWarning) -> Coverage:
    villages = list(session.exec(select(Village).order_by(Village.code)))
    towns = {t.code: t for t in session.exec(select(Town))}
    return covered_villages(warning, villages, towns)


def _wider_repeat(
    session: Session, warning: FeedWarning, plan: Plan, now: datetime, dup: FeedRecord
) -> Coverage | None:
    """The area to decide a repeat over, when it is no mere duplicate; else None.

    QWeather alerts carry no area of their own: the same alert id comes from every
    location feed it touches, each with that feed's area geocodes. A repeat (same
    identifier) of a warning still running (not ended) that would start something —
    an Alert/Update of a counted status, not expired, with a plan hazard and a colour —
    and whose area covers villages the stored record does not, is decided again over
    the union of both areas (which widens the response, rule 5); ``record`` then
    updates the stored record in place (one record per warning, same id).
    """
    if dup.ended or ends_warnings(warning):
        return None
    if warning.status.strip().lower() not in REAL_STATUSES | DRILL_STATUSES:
        return None
    if warning.msg_type.strip().lower() not in MESSAGE_TYPES:
        return None
    if warning.expires is not None and warning.expires < now:
        return None
    if warning.hazard not in plan.warning_levels or warning.colour is None:
        return None
    cov = _coverage(session, warning)
    known = set(dup.village_codes)
    new = sorted(set(cov.village_codes) - known)
    if not new:
        return None
    return Coverage(
        village_codes=sorted(known | set(cov.village_codes)),
        town_codes=sorted(set(dup.town_codes) | set(cov.town_codes)),
        how=dict(cov.how),
        notes=[
            *cov.notes,
            f"received again with a wider area (villages {', '.join(new)}): "
            "decided over both areas",
        ],
    )


def _assess_town(
    session: Session,
    *,
    warning: FeedWarning,
    plan: Plan,
    now: datetime,
    level: Level,
    town_code: str,
    villages: list[str],
    chain: list[FeedRecord],
    chain_ids: set[str],
    drill: bool,
) -> TownDecision:
    act = open_activation(session, town_code=town_code, plan=plan.plan, drill=drill)
    kind = "drill" if drill else "response"
    if act is None:
        return TownDecision(
            town_code,
            Action.ACTIVATE,
            f"no running {kind}: start one at level {level.value}",
            level,
            villages,
        )
    old = Level(act.level)
    added = sorted(set(villages) - set(act.village_codes))
    if level.rank > old.rank:
        return TownDecision(
            town_code,
            Action.ESCALATE,
            f"raises the running {kind} {act.id} from level {old.value} to {level.value}",
            level,
            villages,
            act.id,
        )
    if level.rank < old.rank:
        ours = [r for r in chain if town_code in r.town_codes and _holds(r)]
        if ours:
            others = holders(
                session,
                town_code=town_code,
                drill=drill,
                now=now,
                exclude=chain_ids | {record_id(warning.sender, warning.identifier)},
            )
            top = _max_holder(plan, others)
            if top is None or top[1].rank < old.rank:
                target = level if top is None or top[1].rank <= level.rank else top[1]
                still = (
                    f" (warning {top[0].identifier} still needs {top[1].value})"
                    if top is not None and top[1].rank > level.rank
                    else ""
                )
                return TownDecision(
                    town_code,
                    Action.DOWNGRADE,
                    f"lowers the running {kind} {act.id} from level {old.value} "
                    f"to {target.value}{still}",
                    target,
                    villages,
                    act.id,
                )
            why = f"warning {top[0].identifier} keeps level {old.value}"
        else:
            why = f"a lower level ({level.value}) does not lower a {kind} another warning started"
    else:
        why = f"same level {level.value}"
    if added:
        return TownDecision(
            town_code,
            Action.ESCALATE,
            f"{why}; the running {kind} {act.id} widens to villages {', '.join(added)}",
            old,
            villages,
            act.id,
        )
    return TownDecision(
        town_code,
        Action.IGNORE,
        f"{why}: the running {kind} {act.id} continues",
        old,
        villages,
        act.id,
    )


def _late_end(
    session: Session, warning: FeedWarning, plan: Plan, now: datetime, end: FeedRecord
) -> Assessment | None:
    """The stand-down of what ``warning`` ties to an end received before it, or None.

    A cancel that names only the update, then the alert (started), then the update: only
    the update, coming last, tells that the cancel ends the alert too. What the alert
    started stands down then, as if the cancel had come after both. Only a stand-down:
    anything else (nothing running, another warning still in force) is the plain
    "already cancelled" ignore, and the response goes on as its other warnings say.
    """
    if not warning.references:
        return None
    chain = referenced_chain(session, warning.references)
    if not any(_holds(r) and not r.ended for r in chain):
        return None  # the end reached them already when it came (or nothing held a town)
    late = _assess_end(session, warning, plan, now, by=end)
    return late if late.decision.action == Action.STAND_DOWN else None


def _assess_end(
    session: Session,
    warning: FeedWarning,
    plan: Plan,
    now: datetime,
    *,
    by: FeedRecord | None = None,
) -> Assessment:
    """The decision on a cancel or all-clear; or, ``by`` given, on a message that end reaches
    (``_late_end``): what ``warning`` references ends, on behalf of ``by``."""
    msg_type = by.msg_type if by is not None else warning.msg_type
    what = "cancel" if msg_type.strip().lower() == "cancel" else "all-clear"
    if not warning.references:
        return _ignore(warning, f"a {what} that references no warning ends nothing")
    chain = referenced_chain(session, warning.references)
    if not chain:
        named = ", ".join(r.identifier for r in warning.references)
        return _ignore(warning, f"a {what} of warnings never received ({named}): nothing to end")
    chain_ids = {r.id for r in chain} | {record_id(warning.sender, warning.identifier)}
    chain_drill, mixed = _chain_drill(chain, warning)
    prefix = _end_prefix(chain, warning, chain_drill)
    by_town: dict[tuple[str, bool], set[str]] = {}
    for rec in chain:
        if not _holds(rec):
            continue
        drill = _record_is_drill(rec)
        for town_code in rec.town_codes:
            by_town.setdefault((town_code, drill), set()).update(
                c for c in rec.village_codes if c.startswith(town_code)
            )
    decisions: list[TownDecision] = []
    for (town_code, drill), villages in sorted(by_town.items()):
        kind = "drill" if drill else "response"
        if drill != chain_drill:
            # A chain mixing Exercise/Test and Actual warnings: one decision carries one
            # drill flag, so only the kind the cancel itself is of is acted on here.
            decisions.append(
                TownDecision(
                    town_code,
                    Action.IGNORE,
                    f"the chain mixes drill and real warnings and this {what} is "
                    f"{'a drill' if chain_drill else 'real'}: the {kind} is left to the "
                    "commander (or its warnings' expiry)",
                )
            )
            continue
        act = open_activation(session, town_code=town_code, plan=plan.plan, drill=drill)
        if act is None:
            decisions.append(
                TownDecision(town_code, Action.IGNORE, f"no running {kind} to stand down")
            )
            continue
        others = holders(session, town_code=town_code, drill=drill, now=now, exclude=chain_ids)
        top = _max_holder(plan, others)
        vs = sorted(villages)
        if top is None:
            decisions.append(
                TownDecision(
                    town_code,
                    Action.STAND_DOWN,
                    f"the {what} ends the warnings of the running {kind} {act.id}: stand down",
                    None,
                    vs,
                    act.id,
                )
            )
        elif top[1].rank < Level(act.level).rank:
            decisions.append(
                TownDecision(
                    town_code,
                    Action.DOWNGRADE,
                    f"warning {top[0].identifier} is still in force: the running "
                    f"{kind} {act.id} goes down from level {act.level} to {top[1].value}",
                    top[1],
                    vs,
                    act.id,
                )
            )
        else:
            decisions.append(
                TownDecision(
                    town_code,
                    Action.IGNORE,
                    f"warning {top[0].identifier} is still in force: the running "
                    f"{kind} {act.id} continues at level {act.level}",
                    Level(act.level),
                    vs,
                    act.id,
                )
            )
    ended = ", ".join(r.identifier for r in chain)
    if by is not None:
        what = f"{what} {by.identifier} (received before {warning.identifier})"
        ended = f"{warning.identifier} and with it {ended}"
    if not decisions:
        return Assessment(
            Decision(
                action=Action.IGNORE,
                reason=f"{prefix}the {what} ends {ended}, which started no response",
                drill=chain_drill,
            )
        )
    action = _strongest(decisions)
    acting = [d for d in decisions if d.action == action]
    reason = f"the {what} ends {ended}: {_summary(decisions)}"
    if mixed:
        reason += (
            f" [the chain mixes drill and real warnings: decided for the "
            f"{'drills' if chain_drill else 'real responses'} only, as the {what} is]"
        )
    if action == Action.IGNORE:
        # Not a holding record: an ignored end names no towns (see ``_holds``).
        return Assessment(
            Decision(action=action, reason=prefix + reason, drill=chain_drill), towns=decisions
        )
    levels = [d.level for d in acting if d.level is not None]
    return Assessment(
        Decision(
            action=action,
            drill=chain_drill,
            reason=prefix + reason,
            level=max(levels, key=lambda lv: lv.rank) if levels else None,
            town_codes=sorted({d.town_code for d in acting}),
            village_codes=sorted({c for d in acting for c in d.village_codes}),
        ),
        towns=decisions,
    )


def _chain_drill(chain: Sequence[FeedRecord], warning: FeedWarning) -> tuple[bool, bool]:
    """Whether a cancel's chain is a drill's, and whether it mixes drill and real warnings.

    The chain's warnings that held a response decide (else all of its warnings): all
    Exercise/Test → drill, all Actual → real, whatever the cancel's own status (an Actual
    cancel of an exercise stands down the drill, never the real response). A chain that
    mixes both is decided as the cancel's own status.
    """
    counted = [r for r in chain if r.status.strip().lower() in REAL_STATUSES | DRILL_STATUSES]
    basis = [r for r in counted if _holds(r)] or counted
    kinds = {_record_is_drill(r) for r in basis}
    if len(kinds) == 1:
        return kinds.pop(), False
    return is_drill(warning), len(kinds) > 1


def _end_prefix(chain: Sequence[FeedRecord], warning: FeedWarning, drill: bool) -> str:
    """``drill (<statuses>): `` for an end that concerns drills, else nothing."""
    if not drill:
        return ""
    statuses = sorted({r.status for r in chain if _record_is_drill(r)}) or [warning.status]
    return f"{DRILL_PREFIX}{'/'.join(statuses)}): "


def decide(*, session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Decision:
    """The decision on one warning (see the module docstring); reads the database only."""
    return assess(session=session, warning=warning, plan=plan, now=now).decision


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

    A repeat decided again because its area is wider (see ``_wider_repeat``) updates
    the stored record in place: the new decision (over both areas), and the stored
    warning's geocodes, polygons and circles become the union of both arrivals'.

    A cancel or all-clear that was acted on or ignored (not a duplicate, not a draft)
    marks the chain of warnings it ends ``ended``, and itself too; so does a message
    that a cancel or all-clear received before it reaches (``ended_by``): it ties what
    it references to that end. A record holds a
    town's response (for later cancels and downgrades) when its action is activate,
    escalate, downgrade, or an ignore that names towns and a level (the running
    response continues); ignores for any other reason name no towns.
    """
    now = _aware(now)
    rid = record_id(warning.sender, warning.identifier)
    stored = warning.model_dump(mode="json")
    refresh: list[str] = []
    existing = find_duplicate(session, warning)
    if existing is not None:
        if (
            decision.action in (Action.DUPLICATE, Action.REJECT)
            or existing.ended
            or set(decision.village_codes) <= set(existing.village_codes)
        ):
            return existing
        rid = existing.id
        stored = _union_area(existing.warning or {}, stored)
        refresh = [
            "warning",
            "action",
            "reason",
            "level",
            "town_codes",
            "village_codes",
            "done",
            "targets",
        ]
    status_counts = warning.status.strip().lower() in REAL_STATUSES | DRILL_STATUSES
    # The end this message is or comes under: a cancel or all-clear, or one received
    # before it that reaches it (``ended_by``). It ends what the message references.
    end: tuple[str, str] | None = None
    if status_counts and decision.action not in (Action.DUPLICATE, Action.REJECT):
        if ends_warnings(warning):
            end = (warning.msg_type, warning.identifier)
        elif (
            earlier_end := ended_by(session, sender=warning.sender, identifier=warning.identifier)
        ) is not None:
            end = (earlier_end.msg_type, earlier_end.identifier)
    row: dict[str, Any] = {
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
        "level": decision.level.value if decision.level else None,
        "town_codes": list(decision.town_codes),
        "village_codes": sorted(decision.village_codes),
        "activation_id": activation_id,
        "targets": targets,
        "done": decision.action not in ACTING_ACTIONS,
        "ended": end is not None,
        "received_at": now,
    }
    upsert(session, FeedRecord, [row], update=refresh)
    if end is not None and warning.references:
        chain = [r for r in referenced_chain(session, warning.references) if r.id != rid]
        if chain:
            session.execute(
                update(FeedRecord)
                .where(col(FeedRecord.id).in_([r.id for r in chain]))
                .values(ended=True)
            )
            # A chain never carried out starts nothing after its cancel or all-clear.
            withdraw(session, chain, why=_ended_by(*end))
    elif _update_holds(warning, decision) and status_counts:
        # The update stands for what it references: their starts still to do give way to
        # its own decision (one activation, at the update's level).
        earlier = [r for r in referenced_back(session, warning.references) if r.id != rid]
        withdraw(
            session,
            earlier,
            why=f"superseded by update {warning.identifier} before it was carried out",
        )
    session.flush()
    rec = session.get(FeedRecord, rid, populate_existing=True)
    assert rec is not None
    return rec


def _update_holds(warning: FeedWarning, decision: Decision) -> bool:
    """An update whose decision holds a response (see ``_holds``): it supersedes."""
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


def decision_of(record: FeedRecord) -> Decision:
    """The decision a record stores (``record``), rebuilt: action, reason, level, towns,
    villages, and ``drill`` — which the reason keeps: a decision about drills, and only
    one, has a reason starting with ``DRILL_PREFIX``.
    """
    return Decision(
        action=Action(record.action),
        reason=record.reason,
        level=Level(record.level) if record.level else None,
        town_codes=list(record.town_codes),
        village_codes=sorted(record.village_codes),
        drill=record.reason.startswith(DRILL_PREFIX),
    )


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
    now = _aware(now)
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
