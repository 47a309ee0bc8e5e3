"""Step 1, 24小时值班: the duty roster an activation puts on (town leaders and village posts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.models import Cadre, CadreRole, DutyShift, Town
from sanqing.response.timeline import log_event


def town_leaders(session: Session, town_code: str) -> list[Cadre]:
    """The town's leaders, in code order: the first commands, the first two take duty."""
    return list(
        session.exec(
            select(Cadre)
            .where(Cadre.town_code == town_code, Cadre.role == CadreRole.TOWN_LEADER)
            .order_by(Cadre.code)
        )
    )


def put_on_duty(
    session: Session,
    *,
    activation_id: str,
    leaders: Sequence[Cadre],
    village_codes: list[str],
    start: datetime,
    hours: int,
) -> int:
    """Two town leaders and every village's first secretary on shift from ``start``; how many.

    One shift per cadre and activation: running it again rewrites the same rows.
    """
    ends = start + timedelta(hours=hours)
    shifts: list[dict[str, Any]] = []
    for i, leader in enumerate(leaders[:2]):
        shifts.append(
            {
                "id": f"{activation_id}:duty:{leader.code}",
                "activation_id": activation_id,
                "cadre_code": leader.code,
                "village_code": None,
                "post": "带班领导" if i == 0 else "值班人员",
                "starts_at": start,
                "ends_at": ends,
            }
        )
    secretaries = session.exec(
        select(Cadre).where(
            col(Cadre.village_code).in_(village_codes), Cadre.role == CadreRole.FIRST_SECRETARY
        )
    )
    for sec in secretaries:
        shifts.append(
            {
                "id": f"{activation_id}:duty:{sec.code}",
                "activation_id": activation_id,
                "cadre_code": sec.code,
                "village_code": sec.village_code,
                "post": "村级值守",
                "starts_at": start,
                "ends_at": ends,
            }
        )
    upsert(session, DutyShift, shifts)
    return len(shifts)


def log_duty(
    session: Session,
    *,
    activation_id: str,
    town: Town,
    shifts: int,
    leaders: Sequence[Cadre],
    at: datetime,
    simulated: bool,
) -> None:
    """The timeline says how many went on duty, in the town and in the villages."""
    in_town = min(len(leaders), 2)
    log_event(
        session,
        activation_id=activation_id,
        key="duty",
        actor=town.office,
        action="启动24小时值班",
        detail=f"{shifts}人上岗值守（镇{in_town}人、村{shifts - in_town}人）",
        at=at,
        simulated=simulated,
    )
