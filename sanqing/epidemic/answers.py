"""What people answer in a real epidemic response: the grid members' follow-ups
(健康 / 有症状 / 联系不上), entered in the control room's form or at the terminal, and a
cadre's 收到 to their shift reminder (叫应), which confirms their coming shifts.

A row that cannot be taken (a person not registered in that village, nobody due for
a follow-up) is refused with its row number and why, never with the name; the good
rows are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from sanqing.delivery.acknowledge import acknowledge, one_cadre
from sanqing.epidemic import followups, notices
from sanqing.epidemic.steps import context
from sanqing.errors import SanqingError
from sanqing.models import DutyShift, FollowUp, FollowUpAnswer, RegisteredPerson, Village
from sanqing.response import open_activation
from sanqing.response.timeline import clock

WORDS: dict[str, FollowUpAnswer] = {
    "健康": FollowUpAnswer.HEALTHY,
    "有症状": FollowUpAnswer.SYMPTOMS,
    "联系不上": FollowUpAnswer.UNREACHABLE,
    **{a.value: a for a in FollowUpAnswer},
}
#: A shift reminder's 收到 confirms the cadre's shifts that begin within this time.
CONFIRMS_AHEAD = timedelta(hours=24)


class FollowUpReport(BaseModel):
    """One follow-up as the grid member reports it (a row of the control room's form)."""

    model_config = ConfigDict(extra="forbid")

    village: str = Field(min_length=1, json_schema_extra={"title": "村"})
    person: str = Field(
        min_length=1, description="姓名（与摸排登记一致）", json_schema_extra={"title": "姓名"}
    )
    answer: Literal["健康", "有症状", "联系不上"] = Field(json_schema_extra={"title": "随访结果"})
    note: str = Field("", description="体温、症状或情况", json_schema_extra={"title": "情况"})


@dataclass
class Recorded:
    recorded: int = 0
    escalated: int = 0
    refused: list[str] = field(default_factory=list)  # "row N: why" (no names)


def record_followups(
    session: Session,
    activation_id: str,
    rows: list[FollowUpReport],
    *,
    at: datetime,
    locale: str,
) -> Recorded:
    """Each row answers the person's earliest follow-up due by ``at`` and not answered yet."""
    c = context(session, activation_id)
    villages = {
        v.name: v.code
        for v in session.exec(select(Village).where(Village.town_code == c.town.code))
    }
    people = session.exec(
        select(RegisteredPerson).where(RegisteredPerson.town_code == c.town.code)
    ).all()
    who = {(p.name, p.village_code): p.id for p in people}
    out = Recorded()
    for n, row in enumerate(rows, start=1):
        pid = who.get((row.person.strip(), villages.get(row.village.strip(), "")))
        due = _next_due(session, activation_id, pid, at) if pid else None
        if pid is None:
            out.refused.append(
                f"第{n}行：该村摸排登记中没有此人 / row {n}: not registered in that village"
            )
        elif due is None:
            out.refused.append(f"第{n}行：此人当前没有待随访 / row {n}: no follow-up due")
        else:
            f = followups.answer(session, due.id, result=WORDS[row.answer], at=at, note=row.note)
            out.recorded += 1
            out.escalated += bool(f.escalated_to)
    if out.escalated:
        notices.escalations(
            session, activation_id=activation_id, town=c.town, ctx=c.notice_context(), locale=locale
        )
    return out


def _next_due(
    session: Session, activation_id: str, person_id: str, at: datetime
) -> FollowUp | None:
    return session.exec(
        select(FollowUp)
        .where(
            FollowUp.activation_id == activation_id,
            FollowUp.person_id == person_id,
            col(FollowUp.answer).is_(None),
            col(FollowUp.due_at) <= at,
        )
        .order_by(col(FollowUp.due_at))
    ).first()


def confirm_shifts(session: Session, activation_id: str, cadre_code: str, *, at: datetime) -> int:
    """The cadre's 收到: their shifts beginning within a day (or under way) are confirmed."""
    shifts = session.exec(
        select(DutyShift).where(
            DutyShift.activation_id == activation_id,
            DutyShift.cadre_code == cadre_code,
            col(DutyShift.point_code).is_not(None),
            col(DutyShift.acknowledged_at).is_(None),
            col(DutyShift.starts_at) <= at + CONFIRMS_AHEAD,
            col(DutyShift.ends_at) > at,
        )
    ).all()
    for s in shifts:
        s.acknowledged_at = at
        session.add(s)
    return len(shifts)


def acknowledge_everywhere(
    session: Session, *, town: str, town_code: str, cadre: str, note: str = ""
) -> int:
    """A cadre's 收到 for every response the town has open (flood, epidemic): their tasks
    count as answered, and in the epidemic response their coming shifts are confirmed.
    Returns how many tasks and shifts it answered."""
    acts = [
        a
        for plan in ("flood", "epidemic")
        if (a := open_activation(session, town_code=town_code, plan=plan, drill=False))
    ]
    if not acts:
        raise SanqingError(f"{town}: no running response")
    n = 0
    for act in acts:
        n += acknowledge(session, activation_id=act.id, cadre=cadre, note=note)
        if act.plan == "epidemic":
            who = one_cadre(session, act, cadre)
            n += confirm_shifts(session, act.id, who.code, at=clock(session, act.id))
    return n


def record_for_town(
    session: Session, *, town: str, rows: list[FollowUpReport], locale: str
) -> Recorded:
    """The rows for the town's running epidemic response, at its time now."""
    from sanqing.registry import find_town

    t = find_town(session, town)
    act = open_activation(session, town_code=t.code, plan="epidemic", drill=False)
    if act is None:
        raise SanqingError(f"{town}: no running epidemic response")
    return record_followups(session, act.id, rows, at=clock(session, act.id), locale=locale)
