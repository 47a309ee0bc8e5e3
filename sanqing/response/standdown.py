"""Lowering and ending a response on purpose: the commander's level, the stand-down.

Both under the town lock, like every change of a response's state; neither is ever
a side effect of a trigger run again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from sanqing.models import ActivationStatus, Channel, Notice, NoticeStatus
from sanqing.plans import Level
from sanqing.response.locks import get_activation, lock_town
from sanqing.response.timeline import clock, log_event


def set_level(
    *, session: Session, activation_id: str, level: Level, reason: str, now: datetime | None = None
) -> bool:
    """Change a running activation's level on purpose (a downgrade); True when it changed."""
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    old = Level(act.level)
    if old == level or act.status != ActivationStatus.ACTIVE:
        return False
    act.level = level
    act.updated_at = now
    session.add(act)
    verb = "提升" if level.rank > old.rank else "降低"
    log_event(
        session,
        activation_id=activation_id,
        key=f"set-level-{old.value}-to-{level.value}:{now.isoformat()}",
        actor="镇应急办",
        action=f"{verb}响应级别",
        detail=f"响应级别由{old.label_zh}{verb}为{level.label_zh}：{reason}",
        at=now,
        simulated=act.drill,
    )
    return True


def stand_down(
    *, session: Session, activation_id: str, reason: str, now: datetime | None = None
) -> None:
    """End an activation: its shelter places and machines stop counting as taken.

    Under the town lock: a step of the same response that runs after it sees it ended
    and does nothing.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    if act.status == ActivationStatus.STOOD_DOWN:
        return
    act.status = ActivationStatus.STOOD_DOWN
    act.stood_down_at = now
    act.updated_at = now
    session.add(act)
    # An order still pending when the response ends must not go out afterwards (an
    # "evacuate now" after the all-clear); the reports upward still go. A drill's notices
    # are exercise material, delivered (or printed) after the drill ends.
    if not act.drill:
        session.execute(
            update(Notice)
            .where(
                col(Notice.activation_id) == activation_id,
                col(Notice.status) == NoticeStatus.PENDING,
                col(Notice.channel) != Channel.COUNTY,
            )
            .values(
                status=NoticeStatus.SUPERSEDED, last_error="response stood down before delivery"
            )
        )
    log_event(
        session,
        activation_id=activation_id,
        key="stood-down",
        actor="镇应急办",
        action="结束应急响应",
        detail=reason,
        at=now,
        simulated=act.drill,
    )
