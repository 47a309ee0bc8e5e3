"""Step 2 of the epidemic plan, 摸排: every registered person classed, and what it calls for.

The risk class comes from where they came from and when (the plan's dated risk
areas, at import); the level says which classes are screened and what each calls
for: home health monitoring for N days, a test at a point, or nothing. Each person
gets the grid member of their village as the one who follows up. One read of the
town's register, one bulk write; a re-run updates nothing that is already there
(a person screened keeps their first screening).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, select

from sanqing.db import upsert
from sanqing.epidemic.groups import TownGroups
from sanqing.epidemic.plan import EpidemicPlan
from sanqing.models import ArrivalRisk, MonitoringStatus, RegisteredPerson, Screening
from sanqing.plans import Level
from sanqing.rules.arrivals import action_for


@dataclass
class ScreeningCounts:
    registered: int = 0
    by_risk: dict[str, int] = field(default_factory=dict)
    monitoring: int = 0
    tests: int = 0


def screen(
    session: Session,
    *,
    activation_id: str,
    town_code: str,
    plan: EpidemicPlan,
    level: Level,
    groups: TownGroups,
    today: date,
    now: datetime,
) -> ScreeningCounts:
    """Screening rows for every person the town registered; their counts."""
    lv = plan.levels[level]
    measures = lv.measures()
    people = list(
        session.exec(select(RegisteredPerson).where(RegisteredPerson.town_code == town_code))
    )
    rows = []
    for p in people:
        risk = ArrivalRisk(p.risk)
        action = action_for(risk, measures, p.arrived_on) if risk in lv.screen else None
        until = action.monitoring_until if action is not None else None
        monitored = until is not None and until >= today
        rows.append(
            {
                "id": f"{activation_id}:{p.id}",
                "activation_id": activation_id,
                "person_id": p.id,
                "village_code": p.village_code,
                "household_code": p.household_code,
                "risk": risk,
                "status": _status(action is not None and action.test, monitored),
                "monitoring_days": action.monitoring_days if action else 0,
                "monitoring_until": action.monitoring_until if monitored and action else None,
                "test": bool(action and action.test),
                "cadre_code": _follower(groups, p),
                "screened_at": now,
            }
        )
    if rows:
        upsert(session, Screening, rows)
    session.flush()
    return counts(session, activation_id)


def _status(test: bool, monitored: bool) -> MonitoringStatus:
    if monitored:
        return MonitoringStatus.MONITORING
    return MonitoringStatus.TEST_ONLY if test else MonitoringStatus.NONE


def _follower(groups: TownGroups, person: RegisteredPerson) -> str | None:
    """The grid member who follows the person up: their grid's own, else the group's leader."""
    group = groups.of_village(person.village_code)
    if group is None:
        return None
    number = "".join(ch for ch in person.grid if ch.isdigit())
    for name, team in group.grids.items():
        if number and _grid_number(name) == number and team:
            return team[-1].code
    first = next(iter(group.grids.values()), [])
    return first[-1].code if first else (group.leader.code if group.leader else None)


_NUMERALS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6"}


def _grid_number(name: str) -> str:
    """第二网格 → 2; 2网格 → 2."""
    for ch in name:
        if ch.isdigit():
            return ch
        if ch in _NUMERALS and "网格" in name[name.index(ch) :]:
            return _NUMERALS[ch]
    return ""


def counts(session: Session, activation_id: str) -> ScreeningCounts:
    rows = list(session.exec(select(Screening).where(Screening.activation_id == activation_id)))
    by_risk = Counter(ArrivalRisk(r.risk).value for r in rows)
    return ScreeningCounts(
        registered=len(rows),
        by_risk={r.value: by_risk.get(r.value, 0) for r in ArrivalRisk},
        monitoring=sum(1 for r in rows if r.status == MonitoringStatus.MONITORING),
        tests=sum(1 for r in rows if r.test),
    )
