"""The decision on one warning, over the registry and what earlier warnings started.

``decide`` reads the database and writes nothing; ``store.record`` stores the warning
and its decision in ``FeedRecord`` (and marks the warnings a cancel or all-clear ends);
``store.ingest`` does both. The chains that warnings form (references, ends,
supersessions, what is in force) are ``chains``. Nothing here starts a flow: the caller acts on the decision
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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from sanqing.feeds.area import Coverage, covered_villages
from sanqing.feeds.chains import (
    DRILL_PREFIX,
    DRILL_STATUSES,
    IGNORED_STATUSES,
    MESSAGE_TYPES,
    REAL_STATUSES,
    aware,
    decision_of,
    ends_warnings,
    find_duplicate,
    holders,
    holds,
    is_drill,
    max_holder,
    record_ends,
    record_id,
    record_is_drill,
    referenced_chain,
    superseded_by,
)
from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.models import FeedRecord, Town, Village
from sanqing.plans import Level, Plan
from sanqing.response import open_activation

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
    now = aware(now)
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
        if record_ends(later):
            late = _late_end(session, warning, plan, now, later)
            if late is not None:
                return late
        what = "cancelled" if record_ends(later) else "superseded"
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
        ours = [r for r in chain if town_code in r.town_codes and holds(r)]
        if ours:
            others = holders(
                session,
                town_code=town_code,
                drill=drill,
                now=now,
                exclude=chain_ids | {record_id(warning.sender, warning.identifier)},
            )
            top = max_holder(plan, others)
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
    if not any(holds(r) and not r.ended for r in chain):
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
        if not holds(rec):
            continue
        drill = record_is_drill(rec)
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
        top = max_holder(plan, others)
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
        # Not a holding record: an ignored end names no towns (see ``holds``).
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
    basis = [r for r in counted if holds(r)] or counted
    kinds = {record_is_drill(r) for r in basis}
    if len(kinds) == 1:
        return kinds.pop(), False
    return is_drill(warning), len(kinds) > 1


def _end_prefix(chain: Sequence[FeedRecord], warning: FeedWarning, drill: bool) -> str:
    """``drill (<statuses>): `` for an end that concerns drills, else nothing."""
    if not drill:
        return ""
    statuses = sorted({r.status for r in chain if record_is_drill(r)}) or [warning.status]
    return f"{DRILL_PREFIX}{'/'.join(statuses)}): "


def decide(*, session: Session, warning: FeedWarning, plan: Plan, now: datetime) -> Decision:
    """The decision on one warning (see the module docstring); reads the database only."""
    return assess(session=session, warning=warning, plan=plan, now=now).decision
