"""三情叠加 as the flood plan reads it: the epidemic response a flood runs under, who in
the town is under home health monitoring, and who is on duty at an epidemic point.

A flood activation sees the town's running epidemic activations the way it sees the
shelter places of other responses (``sanqing.response.activation.holds_resources``):
a real flood only real ones, a drill flood real ones and drills. This module reads
only; it imports no ``sanqing.response`` (which imports it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    ActivationStatus,
    DutyShift,
    Level,
    MonitoringStatus,
    Screening,
)

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
