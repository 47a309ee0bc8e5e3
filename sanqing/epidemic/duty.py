"""Step 5 of the epidemic plan, 24 小时执勤: a roster per point over the mixed groups.

The points the level staffs (the town's ``epidemic.yaml``) get shifts of the plan's
length around the clock; a village's points are staffed by its mixed group, the
town's own by its leaders. Rest and hours a day are the plan's; an hour nobody may
take stays uncovered and is reported. Each shift is stored once (its id is the
point and its start); the person on duty is told before it and confirms (叫应);
handovers are logged; a swap is recorded with who was rostered first.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from sanqing.db import upsert
from sanqing.epidemic.groups import TownGroups
from sanqing.epidemic.plan import EpidemicPlan
from sanqing.epidemic.resources import Point, TownResources
from sanqing.errors import SanqingError
from sanqing.models import DutyShift, Village
from sanqing.plans import Level
from sanqing.response.timeline import local_tz, log_event
from sanqing.rules.roster import DutyRules, Roster, Shift, plan_roster


@dataclass(frozen=True)
class DutyFigures:
    points: int
    shifts: int
    uncovered_hours: float
    min_rest_hours: float | None
    max_hours_per_person_day: float
    acknowledged: int


def staffed_points(
    session: Session, town_code: str, plan: EpidemicPlan, level: Level, res: TownResources
) -> list[Point]:
    """The town's points of the kinds the level staffs; a point naming no village of the
    town is refused, naming it."""
    names = {v.name for v in session.exec(select(Village).where(Village.town_code == town_code))}
    for p in res.points:
        if p.village is not None and p.village not in names:
            raise SanqingError(
                f"epidemic.yaml: point {p.code}: {p.village} is not a village of the town"
            )
    kinds = set(plan.levels[level].points)
    return [p for p in res.points if p.kind in kinds]


def put_on_duty(
    session: Session,
    *,
    activation_id: str,
    points: list[Point],
    groups: TownGroups,
    rules: DutyRules,
    start: datetime,
    hours: float,
) -> Roster:
    """The roster of every point for ``hours`` from ``start``, stored; uncovered hours logged."""
    pools: dict[str, list[Point]] = defaultdict(list)
    for p in points:
        pools[p.village or ""].append(p)
    roster = Roster()
    for village, its_points in pools.items():
        group = next((g for g in groups.groups if g.village == village), None)
        people = group.codes if group else [c.code for c in groups.leaders]
        part = plan_roster(
            [p.code for p in its_points], people, start=start, hours=hours, rules=rules
        )
        roster.shifts.extend(part.shifts)
    names = {p.code: p for p in points}
    rows = [
        {
            "id": f"{activation_id}:{s.point}:{s.start:%Y%m%dT%H%M}",
            "activation_id": activation_id,
            "cadre_code": s.person,
            "village_code": groups.code_of(names[s.point].village),
            "post": names[s.point].name,
            "point_code": s.point,
            "starts_at": s.start,
            "ends_at": s.end,
        }
        for s in roster.shifts
        if s.person is not None
    ]
    if rows:
        upsert(session, DutyShift, rows)
    _log_uncovered(session, activation_id, roster, names)
    return roster


def _log_uncovered(
    session: Session, activation_id: str, roster: Roster, points: dict[str, Point]
) -> None:
    for point, shifts in itertools.groupby(roster.uncovered, key=lambda s: s.point):
        hours = sum(s.hours for s in shifts)
        log_event(
            session,
            activation_id=activation_id,
            key=f"duty-uncovered:{point}",
            actor="镇疫情防控办",
            action=f"执勤缺员：{points[point].name}有{hours:g}小时无人可排，须镇里增派人员",
        )


def acknowledge(session: Session, shift_id: str, *, at: datetime) -> DutyShift:
    """The person on duty confirmed the shift (the first confirmation stands)."""
    shift = session.get(DutyShift, shift_id)
    if shift is None:
        raise SanqingError(f"no duty shift {shift_id}")
    if shift.acknowledged_at is None:
        shift.acknowledged_at = at
        session.add(shift)
    return shift


def hand_over(session: Session, *, activation_id: str, until: datetime) -> int:
    """Every shift ended by ``until`` is handed over to the next; how many now."""
    ended = session.exec(
        select(DutyShift).where(
            DutyShift.activation_id == activation_id,
            DutyShift.point_code != None,  # noqa: E711 - SQL expression
            DutyShift.ends_at <= until,
            DutyShift.handed_over_at == None,  # noqa: E711
        )
    ).all()
    for s in ended:
        s.handed_over_at = s.ends_at
        session.add(s)
    return len(ended)


def swap(
    session: Session, shift_id: str, *, to_cadre: str, rules: DutyRules, reason: str, at: datetime
) -> DutyShift:
    """Give a shift to another person, if the plan's rest and hours allow it; recorded."""
    shift = session.get(DutyShift, shift_id)
    if shift is None:
        raise SanqingError(f"no duty shift {shift_id}")
    theirs = session.exec(
        select(DutyShift).where(
            DutyShift.activation_id == shift.activation_id, DutyShift.cadre_code == to_cadre
        )
    ).all()
    rest = timedelta(hours=rules.min_rest_hours)
    for other in theirs:
        if other.starts_at < shift.ends_at + rest and shift.starts_at < other.ends_at + rest:
            raise SanqingError(
                f"swap refused: {to_cadre} has a shift from {other.starts_at:%m-%d %H:%M} "
                f"and needs {rules.min_rest_hours:g} h rest between shifts"
            )
    shift.swapped_from = shift.swapped_from or shift.cadre_code
    shift.cadre_code = to_cadre
    session.add(shift)
    log_event(
        session,
        activation_id=shift.activation_id,
        key=f"swap:{shift.id}",
        at=at,
        actor="镇疫情防控办",
        action=f"换班：{shift.post}{shift.starts_at:%m月%d日%H时}班次换人",
        detail=reason,
    )
    return shift


def figures(
    session: Session, activation_id: str, n_points: int, *, until: datetime | None = None
) -> DutyFigures:
    """The roster's figures; with ``until``, of the shifts begun by then."""
    shifts = list(
        session.exec(
            select(DutyShift).where(
                DutyShift.activation_id == activation_id,
                DutyShift.point_code != None,  # noqa: E711
            )
        )
    )
    shifts = [s for s in shifts if until is None or s.starts_at <= until]
    tz = local_tz()
    roster = Roster(
        [
            Shift(
                s.point_code or "",
                s.starts_at.astimezone(tz),
                s.ends_at.astimezone(tz),
                s.cadre_code,
            )
            for s in shifts
        ]
    )
    covered = sum(s.hours for s in roster.shifts)
    span = (
        (max(s.ends_at for s in shifts) - min(s.starts_at for s in shifts)).total_seconds() / 3600
        if shifts
        else 0.0
    )
    return DutyFigures(
        points=n_points,
        shifts=len(shifts),
        uncovered_hours=round(max(0.0, n_points * span - covered), 1),
        min_rest_hours=roster.min_rest_hours(),
        max_hours_per_person_day=roster.max_hours_per_person_day(),
        acknowledged=sum(1 for s in shifts if s.acknowledged_at is not None),
    )
