"""The response's timeline (what happened, by whom, when) and its clock: the wall clock, or a drill's own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select as select_rows
from sqlmodel import Session, SQLModel

from sanqing.db import core_rows, upsert
from sanqing.errors import (
    SanqingError,
)
from sanqing.models import (
    Activation,
    TimelineEvent,
    utcnow,
)
from sanqing.settings import get_settings


def how_noted(simulated: bool, unattended: bool = False) -> str:
    """The suffix a timeline line carries when nobody decided it: a drill, or the plan's timeout rule."""
    if simulated:
        return "（演练模拟）"
    return "（无人值守，按预案超时规则）" if unattended else ""


def local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def log_event(
    session: Session,
    *,
    activation_id: str,
    key: str,
    actor: str,
    action: str,
    detail: str = "",
    at: datetime | None = None,
    simulated: bool = False,
) -> None:
    """Add a timeline event once (its id is derived from the activation and ``key``)."""
    upsert(
        session,
        TimelineEvent,
        [
            {
                "id": f"{activation_id}:{key}",
                "activation_id": activation_id,
                "at": at or clock(session, activation_id),
                "actor": actor,
                "action": action,
                "detail": detail,
                "simulated": simulated,
            }
        ],
    )


def read_rows(
    session: Session, model: type[SQLModel], *where: Any, order_by: Any = ()
) -> list[Any]:
    """The rows of a table as read-only named tuples (``row.code``), without ORM objects.

    For the thousands of households, relocations and notices of a town that a step
    only reads: building ORM instances for them cost more than the step's own work.
    """
    stmt = select_rows(model.__table__).where(*where)  # type: ignore[attr-defined]
    if order_by != ():
        stmt = stmt.order_by(*(order_by if isinstance(order_by, tuple) else (order_by,)))
    return core_rows(session, stmt)


def clock(session: Session, activation_id: str) -> datetime:
    """The activation's time now: the wall clock, or a drill's own clock.

    A drill runs on the time of its scenario (its warning's time and the steps of
    its script, see ``advance_clock``); everything else on the wall clock.
    """
    act = session.get(Activation, activation_id)
    offset = act.clock_offset_s if act is not None else 0.0
    return utcnow() + timedelta(seconds=offset) if offset else utcnow()


def advance_clock(session: Session, activation_id: str, minutes: float) -> datetime:
    """Move a drill's clock on by ``minutes`` (its script's time between two steps)."""
    act = session.get(Activation, activation_id)
    if act is None or not act.drill:
        raise SanqingError(f"{activation_id}: only a drill's clock can be moved on")
    act.clock_offset_s += minutes * 60
    session.add(act)
    session.flush()
    return clock(session, activation_id)
