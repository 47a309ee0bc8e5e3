"""Casualties (人员伤亡) as the town reports them: recorded, added up, never per person in a report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from sanqing.errors import AnswerError
from sanqing.models import Activation, Casualty, Village
from sanqing.privacy import mask_text
from sanqing.response import clock, get_activation, log_event


def record_casualties(
    session: Session,
    *,
    activation_id: str,
    dead: int = 0,
    missing: int = 0,
    injured: int = 0,
    note: str = "",
    village_code: str | None = None,
    reported_by: str = "",
    now: datetime | None = None,
) -> Casualty:
    """Record people dead, missing or injured in a response (counts, a short note).

    Each call adds a row; the reports give the sums. The note is masked (no phone or ID
    number reaches a report). Bad input is refused with the field and the reason.
    """
    act = get_activation(session, activation_id)
    _check(session, act, dead=dead, missing=missing, injured=injured, village_code=village_code)
    now = now or clock(session, activation_id)
    seq = (
        session.exec(
            select(func.count()).select_from(Casualty).where(Casualty.activation_id == act.id)
        ).one()
        + 1
    )
    row = Casualty(
        id=f"{act.id}:{seq}",
        activation_id=act.id,
        village_code=village_code,
        dead=dead,
        missing=missing,
        injured=injured,
        note=mask_text(note.strip()),
        reported_by=reported_by,
        at=now,
    )
    session.add(row)
    parts = [
        f"{label}{n}人" for label, n in (("死亡", dead), ("失踪", missing), ("受伤", injured)) if n
    ]
    log_event(
        session,
        activation_id=act.id,
        key=f"casualties:{seq}",
        actor=reported_by or "镇应急办",
        action="报告人员伤亡",
        detail="、".join(parts) + (f"（{row.note}）" if row.note else ""),
        at=now,
        simulated=act.drill,
    )
    session.flush()
    return row


def _check(
    session: Session,
    act: Activation,
    *,
    dead: int,
    missing: int,
    injured: int,
    village_code: str | None,
) -> None:
    """Refuse counts that are not whole numbers of people, all zero, or another town's village."""
    problems = [
        f"{name} must be a whole number of people, 0 or more (got {value!r})"
        for name, value in (("dead", dead), ("missing", missing), ("injured", injured))
        if not isinstance(value, int) or isinstance(value, bool) or value < 0
    ]
    if not problems and dead + missing + injured == 0:
        problems.append("dead, missing and injured are all 0: nothing to record")
    if village_code is not None:
        village = session.get(Village, village_code)
        if village is None or village.town_code != act.town_code:
            problems.append(f"village {village_code!r} is not a village of town {act.town_code}")
    if problems:
        raise AnswerError([f"casualties for {act.id}: {p}" for p in problems])


def casualty_totals(session: Session, activation_id: str) -> dict[str, Any]:
    """The sums of the recorded casualties, with their notes in order."""
    rows = list(
        session.exec(
            select(Casualty)
            .where(Casualty.activation_id == activation_id)
            .order_by(col(Casualty.at), col(Casualty.id))
        )
    )
    return {
        "dead": sum(r.dead for r in rows),
        "missing": sum(r.missing for r in rows),
        "injured": sum(r.injured for r in rows),
        "notes": [r.note for r in rows if r.note],
    }
