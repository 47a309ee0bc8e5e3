"""Step 1 of the epidemic plan, 启动: open (or continue) the town's epidemic response.

A town has at most one open epidemic response (drills apart), as in the flood plan;
a run while it is open continues it, a higher level raises it. Opening forms the
mixed groups and sends every cadre their work arrangement (工作安排).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from sanqing.db import upsert
from sanqing.epidemic.groups import TownGroups, mixed_groups
from sanqing.epidemic.plan import EpidemicPlan
from sanqing.models import Activation, ActivationStatus, StartBasis, Town, utcnow
from sanqing.plans import Level
from sanqing.response.activation import activation_id_for, open_activation
from sanqing.response.locks import lock_town
from sanqing.response.timeline import log_event

PLAN = "epidemic"
_RANK = {lv: i for i, lv in enumerate((Level.IV, Level.III, Level.II, Level.I))}


@dataclass(frozen=True)
class EpidemicActivation:
    activation_id: str
    level: Level
    created: bool
    village_codes: list[str]
    #: False: this drill ran before and ended (the same scenario on the same day is the
    #: same drill): nothing was changed, and no step should run
    open: bool = True


def open_epidemic(
    session: Session,
    *,
    town: Town,
    plan: EpidemicPlan,
    level: Level,
    drill: bool,
    scenario: str | None = None,
    now: datetime | None = None,
) -> EpidemicActivation:
    """Open the town's epidemic response at ``level``, or continue (and maybe raise) it."""
    now = now or utcnow()
    lock_town(session, town.code)
    groups = mixed_groups(session, town.code)
    existing = open_activation(session, town_code=town.code, plan=PLAN, drill=drill)
    if existing is not None:
        return _continue(session, existing, level, now)
    act_id = activation_id_for(town_code=town.code, plan=PLAN, warning=None, now=now, drill=drill)
    ran = session.get(Activation, act_id)
    if drill and ran is not None and ran.scenario == scenario:
        return EpidemicActivation(act_id, Level(ran.level), False, list(ran.village_codes), False)
    n = 2
    base = act_id
    while session.get(Activation, act_id) is not None:  # a new start after a stand-down
        act_id, n = f"{base}-{n}", n + 1
    villages = [g.village_code for g in groups.groups]
    upsert(session, Activation, [_row(act_id, town, level, drill, scenario, villages, now)])
    session.flush()
    _log_opened(session, act_id, plan, level, groups, now=now, drill=drill)
    return EpidemicActivation(act_id, level, True, villages)


def _row(
    act_id: str,
    town: Town,
    level: Level,
    drill: bool,
    scenario: str | None,
    villages: list[str],
    now: datetime,
) -> dict[str, object]:
    return {
        "id": act_id,
        "town_code": town.code,
        "plan": PLAN,
        "level": level,
        "status": ActivationStatus.ACTIVE,
        "drill": drill,
        "trigger": "drill" if drill else "manual",
        "basis": StartBasis.TOWN_ASSESSMENT,
        "scenario": scenario,
        "village_codes": villages,
        "activated_at": now,
        "updated_at": now,
        "clock_offset_s": (now - utcnow()).total_seconds() if drill else 0.0,
    }


def _continue(session: Session, act: Activation, level: Level, now: datetime) -> EpidemicActivation:
    """A run while the response is open: a higher level raises it, a lower one is ignored."""
    if _RANK[level] > _RANK[Level(act.level)]:
        before = act.level
        act.level, act.updated_at = level, now
        session.add(act)
        log_event(
            session,
            activation_id=act.id,
            key=f"level:{level.value}",
            actor="镇疫情防控指挥部",
            action=f"疫情防控响应由{before}级提升为{level.value}级",
        )
    return EpidemicActivation(act.id, Level(act.level), False, list(act.village_codes))


def _log_opened(
    session: Session,
    act_id: str,
    plan: EpidemicPlan,
    level: Level,
    groups: TownGroups,
    *,
    now: datetime,
    drill: bool,
) -> None:
    people = sum(len(g.members) for g in groups.groups)
    grids = sum(len(g.grids) for g in groups.groups)
    log_event(
        session,
        activation_id=act_id,
        key="opened",
        at=now,
        actor="镇疫情防控指挥部",
        action=f"{'【演练】' if drill else ''}启动{plan.levels[level].name}",
        detail=f"混合编组{len(groups.groups)}个（{people}人），网格{grids}个",
        simulated=drill,
    )
