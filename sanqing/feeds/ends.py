"""The decision on a cancel or all-clear (rule 3 of ``decide``), and on a late message it reaches (3b).

An end stands down every town the warnings of its chain started or continued a
response for, unless another warning still in force holds the town: then the
response goes down to that warning's level if it is lower, else it continues.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from sanqing.feeds.assessment import Assessment, TownDecision, ignored, strongest, summary
from sanqing.feeds.chains import (
    DRILL_PREFIX,
    DRILL_STATUSES,
    REAL_STATUSES,
    holders,
    holds,
    is_drill,
    max_holder,
    record_id,
    record_is_drill,
    referenced_chain,
)
from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.models import FeedRecord
from sanqing.plans import Level, Plan
from sanqing.response import open_activation


def late_end(
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
    late = assess_end(session, warning, plan, now, by=end)
    return late if late.decision.action == Action.STAND_DOWN else None


def assess_end(
    session: Session,
    warning: FeedWarning,
    plan: Plan,
    now: datetime,
    *,
    by: FeedRecord | None = None,
) -> Assessment:
    """The decision on a cancel or all-clear; or, ``by`` given, on a message that end reaches
    (``late_end``): what ``warning`` references ends, on behalf of ``by``."""
    msg_type = by.msg_type if by is not None else warning.msg_type
    what = "cancel" if msg_type.strip().lower() == "cancel" else "all-clear"
    if not warning.references:
        return ignored(warning, f"a {what} that references no warning ends nothing")
    chain = referenced_chain(session, warning.references)
    if not chain:
        named = ", ".join(r.identifier for r in warning.references)
        return ignored(warning, f"a {what} of warnings never received ({named}): nothing to end")
    chain_ids = {r.id for r in chain} | {record_id(warning.sender, warning.identifier)}
    chain_drill, mixed = _chain_drill(chain, warning)
    prefix = _end_prefix(chain, warning, chain_drill)
    decisions = [
        _end_town(
            session,
            plan=plan,
            now=now,
            what=what,
            chain_drill=chain_drill,
            chain_ids=chain_ids,
            town_code=town_code,
            drill=drill,
            villages=sorted(villages),
        )
        for (town_code, drill), villages in sorted(_held_towns(chain).items())
    ]
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
    reason = f"the {what} ends {ended}: {summary(decisions)}"
    if mixed:
        reason += (
            f" [the chain mixes drill and real warnings: decided for the "
            f"{'drills' if chain_drill else 'real responses'} only, as the {what} is]"
        )
    return _end_decision(decisions, reason=prefix + reason, drill=chain_drill)


def _held_towns(chain: Sequence[FeedRecord]) -> dict[tuple[str, bool], set[str]]:
    """The towns the chain's warnings hold, as ``(town_code, drill)``, with their villages."""
    by_town: dict[tuple[str, bool], set[str]] = {}
    for rec in chain:
        if not holds(rec):
            continue
        drill = record_is_drill(rec)
        for town_code in rec.town_codes:
            by_town.setdefault((town_code, drill), set()).update(
                c for c in rec.village_codes if c.startswith(town_code)
            )
    return by_town


def _end_town(
    session: Session,
    *,
    plan: Plan,
    now: datetime,
    what: str,
    chain_drill: bool,
    chain_ids: set[str],
    town_code: str,
    drill: bool,
    villages: list[str],
) -> TownDecision:
    """What the end means for one town its chain held: stand down, go down, or continue."""
    kind = "drill" if drill else "response"
    if drill != chain_drill:
        # A chain mixing Exercise/Test and Actual warnings: one decision carries one
        # drill flag, so only the kind the cancel itself is of is acted on here.
        return TownDecision(
            town_code,
            Action.IGNORE,
            f"the chain mixes drill and real warnings and this {what} is "
            f"{'a drill' if chain_drill else 'real'}: the {kind} is left to the "
            "commander (or its warnings' expiry)",
        )
    act = open_activation(session, town_code=town_code, plan=plan.plan, drill=drill)
    if act is None:
        return TownDecision(town_code, Action.IGNORE, f"no running {kind} to stand down")
    others = holders(session, town_code=town_code, drill=drill, now=now, exclude=chain_ids)
    top = max_holder(plan, others)
    if top is None:
        return TownDecision(
            town_code,
            Action.STAND_DOWN,
            f"the {what} ends the warnings of the running {kind} {act.id}: stand down",
            None,
            villages,
            act.id,
        )
    if top[1].rank < Level(act.level).rank:
        return TownDecision(
            town_code,
            Action.DOWNGRADE,
            f"warning {top[0].identifier} is still in force: the running "
            f"{kind} {act.id} goes down from level {act.level} to {top[1].value}",
            top[1],
            villages,
            act.id,
        )
    return TownDecision(
        town_code,
        Action.IGNORE,
        f"warning {top[0].identifier} is still in force: the running "
        f"{kind} {act.id} continues at level {act.level}",
        Level(act.level),
        villages,
        act.id,
    )


def _end_decision(decisions: list[TownDecision], *, reason: str, drill: bool) -> Assessment:
    """The end's decision: the strongest of its towns' actions, over the towns that take it."""
    action = strongest(decisions)
    if action == Action.IGNORE:
        # Not a holding record: an ignored end names no towns (see ``holds``).
        return Assessment(Decision(action=action, reason=reason, drill=drill), towns=decisions)
    acting = [d for d in decisions if d.action == action]
    levels = [d.level for d in acting if d.level is not None]
    return Assessment(
        Decision(
            action=action,
            drill=drill,
            reason=reason,
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
