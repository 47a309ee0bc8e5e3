"""三情叠加 as the flood plan reads it: the epidemic response a flood runs under, who in
the town is under home health monitoring, and who is on duty at an epidemic point.

A flood activation sees the town's running epidemic activations the way it sees the
shelter places of other responses (``sanqing.response.activation.holds_resources``):
a real flood only real ones, a drill flood real ones and drills. This module reads
only; it imports no ``sanqing.response`` (which imports it).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.epidemic.plan import EpidemicLevel, load_epidemic_plan
from sanqing.epidemic.registrations import import_registrations, read_registrations
from sanqing.errors import ScenarioError
from sanqing.models import (
    Activation,
    ActivationStatus,
    DutyShift,
    Level,
    MonitoringStatus,
    RegisteredPerson,
    Screening,
    Town,
    utcnow,
)
from sanqing.rules.arrivals import action_for
from sanqing.settings import get_settings

#: The plan name of the epidemic plan's activations.
EPIDEMIC = "epidemic"


def _epidemic_seen_by(town_code: str, drill: bool) -> list[Any]:
    """The epidemic activations a flood of the town (drill or not) runs under."""
    conditions: list[Any] = [
        Activation.town_code == town_code,
        Activation.plan == EPIDEMIC,
        Activation.status == ActivationStatus.ACTIVE,
    ]
    if not drill:  # a real flood never moves people for a drill's monitoring
        conditions.append(Activation.drill == False)  # noqa: E712 - SQL expression
    return conditions


def running_epidemic(session: Session, *, town_code: str, drill: bool) -> Activation | None:
    """The town's running epidemic activation a flood works under: the highest level, a
    real one before a drill at the same level; None when the town has none."""
    running = list(session.exec(select(Activation).where(*_epidemic_seen_by(town_code, drill))))
    return max(
        running, key=lambda a: (Level(a.level).rank, not a.drill, a.activated_at), default=None
    )


def monitored_households(
    session: Session, *, town_code: str, drill: bool, on: date
) -> dict[str, int]:
    """Household code → people of it under home health monitoring on the day ``on``.

    A person is under monitoring while a running epidemic activation the flood sees
    has them ``monitoring`` until ``on`` or later; screened by two such activations
    (a drill and a real one) they count once.
    """
    rows = session.exec(
        select(Screening.household_code, func.count(distinct(col(Screening.person_id))))
        .join(Activation, col(Activation.id) == col(Screening.activation_id))
        .where(
            *_epidemic_seen_by(town_code, drill),
            Screening.status == MonitoringStatus.MONITORING,
            col(Screening.monitoring_until) >= on,
            col(Screening.household_code).is_not(None),
        )
        .group_by(col(Screening.household_code))
    )
    return {code: n for code, n in rows if code}


def on_point_duty(
    session: Session, *, town_code: str, drill: bool, start: datetime, end: datetime
) -> set[str]:
    """The cadres on duty at an epidemic point (24 小时执勤) at some time from ``start``
    to ``end``: one roster of people for both plans, they get no door visits then."""
    rows = session.exec(
        select(DutyShift.cadre_code)
        .join(Activation, col(Activation.id) == col(DutyShift.activation_id))
        .where(
            *_epidemic_seen_by(town_code, drill),
            col(DutyShift.point_code).is_not(None),
            col(DutyShift.starts_at) < end,
            col(DutyShift.ends_at) > start,
        )
    )
    return set(rows)


# --- a drill's epidemic, until the epidemic flow's own ``open_epidemic``/``screen`` land ---


def open_drill_epidemic(
    session: Session, *, town: Town, level: Level, register: Path, now: datetime
) -> str:
    """Open the town's epidemic drill at ``level`` (or take the one open), import the
    register and screen it; the activation's id.

    A stand-in of the epidemic flow's first steps for the flood drill under an epidemic:
    the activation's clock is the drill's (``now``); every registered person of the town
    is classed by the plan's areas and gets the level's measures counted from arrival.
    """
    plan = load_epidemic_plan()
    act_id = f"drill-{EPIDEMIC}-{town.code}-overlay"
    open_row = session.exec(
        select(Activation).where(*_epidemic_seen_by(town.code, True), Activation.drill == True)  # noqa: E712
    ).first()
    if open_row is not None:
        act_id = open_row.id
    else:
        upsert(session, Activation, [_drill_row(act_id, town, level, now)])
    report = import_registrations(
        session, town=town, register=read_registrations(register), plan=plan, now=now
    )
    if report.problems:  # a drill runs on a clean register: say which rows are not
        lines = "\n  ".join(str(p) for p in report.problems[:10])
        raise ScenarioError(f"{register}: the drill's register has bad rows\n  {lines}")
    session.flush()
    _screen(session, activation_id=act_id, town_code=town.code, lv=plan.levels[level], now=now)
    return act_id


def _drill_row(act_id: str, town: Town, level: Level, now: datetime) -> dict[str, Any]:
    return {
        "id": act_id,
        "town_code": town.code,
        "plan": EPIDEMIC,
        "level": level.value,
        "status": ActivationStatus.ACTIVE,
        "drill": True,
        "trigger": "drill",
        "village_codes": [],
        "activated_at": now,
        "updated_at": now,
        "clock_offset_s": (now - utcnow()).total_seconds(),
    }


def _screen(
    session: Session, *, activation_id: str, town_code: str, lv: EpidemicLevel, now: datetime
) -> None:
    """A Screening row per registered person of the town: their class and its measures."""
    today = now.astimezone(ZoneInfo(get_settings().timezone)).date()
    rows = []
    for p in session.exec(select(RegisteredPerson).where(RegisteredPerson.town_code == town_code)):
        action = action_for(p.risk, lv.measures(), p.arrived_on)
        screened = p.risk in lv.screen
        until = action.monitoring_until if screened else None
        status = (
            MonitoringStatus.NONE
            if not screened
            else MonitoringStatus.MONITORING
            if until is not None and until >= today
            else MonitoringStatus.ENDED
            if until is not None
            else MonitoringStatus.TEST_ONLY
            if action.test
            else MonitoringStatus.NONE
        )
        rows.append(
            {
                "id": f"{activation_id}:{p.id}",
                "activation_id": activation_id,
                "person_id": p.id,
                "village_code": p.village_code,
                "household_code": p.household_code,
                "risk": p.risk,
                "status": status,
                "monitoring_days": action.monitoring_days if screened else 0,
                "monitoring_until": until,
                "test": screened and action.test,
                "screened_at": now,
            }
        )
    upsert(session, Screening, rows)
