"""What an alert or update means for each town it covers (rule 5 of ``decide``).

Against the town's open activation (real or drill, as the warning): none → start one;
a higher level → raise it; a lower level → lower it, only for an update whose chain
holds the town and no further than another warning in force needs; else widen it to
villages it does not answer for yet, or let it continue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from sanqing.feeds.area import Coverage
from sanqing.feeds.assessment import TownDecision
from sanqing.feeds.chains import holders, holds, is_drill, max_holder, record_id, referenced_chain
from sanqing.feeds.model import Action, FeedWarning
from sanqing.models import Activation, FeedRecord
from sanqing.plans import Level, Plan
from sanqing.response import open_activation


@dataclass(frozen=True)
class _Warned:
    """What each covered town's decision reads of the warning (rule 5)."""

    warning: FeedWarning
    plan: Plan
    now: datetime
    level: Level  # the plan level of its hazard and colour
    drill: bool
    chain: list[FeedRecord]  # an update's chain (what it references), else empty
    chain_ids: set[str]


def assess_towns(
    session: Session,
    *,
    warning: FeedWarning,
    plan: Plan,
    now: datetime,
    level: Level,
    coverage: Coverage,
) -> list[TownDecision]:
    """Each covered town's decision, against its open activation (rule 5)."""
    update = warning.msg_type.strip().lower() == "update"
    chain = referenced_chain(session, warning.references) if update else []
    warned = _Warned(warning, plan, now, level, is_drill(warning), chain, {r.id for r in chain})
    return [
        _assess_town(
            session,
            warned,
            town_code=town_code,
            villages=[c for c in coverage.village_codes if c.startswith(town_code)],
        )
        for town_code in coverage.town_codes
    ]


def _assess_town(
    session: Session, warned: _Warned, *, town_code: str, villages: list[str]
) -> TownDecision:
    """Start, raise, lower, widen or continue the town's response (rule 5)."""
    act = open_activation(session, town_code=town_code, plan=warned.plan.plan, drill=warned.drill)
    kind = "drill" if warned.drill else "response"
    level = warned.level
    if act is None:
        return TownDecision(
            town_code,
            Action.ACTIVATE,
            f"no running {kind}: start one at level {level.value}",
            level,
            villages,
        )
    old = Level(act.level)
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
        lowered = _lower(session, warned, town_code=town_code, villages=villages, act=act)
        if isinstance(lowered, TownDecision):
            return lowered
        why = lowered
    else:
        why = f"same level {level.value}"
    added = sorted(set(villages) - set(act.village_codes))
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


def _lower(
    session: Session, warned: _Warned, *, town_code: str, villages: list[str], act: Activation
) -> TownDecision | str:
    """The downgrade of the town's response to the warning's lower level, or why it stays.

    Only an update whose chain holds the town lowers its response, and no further than
    another warning in force still needs.
    """
    kind = "drill" if warned.drill else "response"
    level, old, warning = warned.level, Level(act.level), warned.warning
    ours = [r for r in warned.chain if town_code in r.town_codes and holds(r)]
    if not ours:
        return f"a lower level ({level.value}) does not lower a {kind} another warning started"
    others = holders(
        session,
        town_code=town_code,
        drill=warned.drill,
        now=warned.now,
        exclude=warned.chain_ids | {record_id(warning.sender, warning.identifier)},
    )
    top = max_holder(warned.plan, others)
    if top is not None and top[1].rank >= old.rank:
        return f"warning {top[0].identifier} keeps level {old.value}"
    target = level if top is None or top[1].rank <= level.rank else top[1]
    still = (
        f" (warning {top[0].identifier} still needs {top[1].value})"
        if top is not None and top[1].rank > level.rank
        else ""
    )
    return TownDecision(
        town_code,
        Action.DOWNGRADE,
        f"lowers the running {kind} {act.id} from level {old.value} to {target.value}{still}",
        target,
        villages,
        act.id,
    )
