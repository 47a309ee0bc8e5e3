"""Step 3 of the epidemic plan, 健康监测: a follow-up of every monitored person at the
level's interval, answered 健康 / 有症状 / 联系不上, and what an answer sets off.

Symptoms go to the village doctor and the 卫生院 at once, and the person is referred
(their monitoring becomes the clinic's); nobody answering goes to the group's leader
and then the town. Monitoring ends by itself when its days are over. Rows are keyed
by the person and the follow-up's number: scheduling again writes nothing new, and
an answer given twice counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.models import FollowUp, FollowUpAnswer, MonitoringStatus, Screening
from sanqing.response.timeline import local_tz, log_event

#: Who is told, in order, per answer that is not 健康.
CHAIN = {
    FollowUpAnswer.SYMPTOMS: ("村医", "卫生院"),
    FollowUpAnswer.UNREACHABLE: ("包片领导", "镇疫情防控办"),
}


@dataclass(frozen=True)
class FollowUpFigures:
    due: int
    done: int
    escalated: int
    referred: int
    ended: int


def schedule(
    session: Session, *, activation_id: str, every_hours: int, start: datetime, until: datetime
) -> int:
    """The follow-ups due from ``start`` to ``until`` for everyone under monitoring."""
    people = session.exec(
        select(Screening).where(
            Screening.activation_id == activation_id,
            Screening.status == MonitoringStatus.MONITORING,
        )
    ).all()
    rows = []
    step = timedelta(hours=every_hours)
    for s in people:
        last = datetime.combine(s.monitoring_until, time(23, 59), tzinfo=local_tz())  # type: ignore[arg-type]
        # numbered from the screening, so a daily run continues the count, never restarts it
        skipped = max(0, (start - s.screened_at) // step)
        due, seq = s.screened_at + skipped * step, skipped + 1
        while due < min(until, last):
            rows.append(
                {
                    "id": f"{activation_id}:{s.person_id}:{seq}",
                    "activation_id": activation_id,
                    "person_id": s.person_id,
                    "village_code": s.village_code,
                    "seq": seq,
                    "cadre_code": s.cadre_code,
                    "due_at": due,
                }
            )
            due, seq = due + timedelta(hours=every_hours), seq + 1
    if rows:
        upsert(session, FollowUp, rows)
    return len(rows)


def answer(
    session: Session,
    followup_id: str,
    *,
    result: FollowUpAnswer,
    at: datetime,
    note: str = "",
    simulated: bool = False,
) -> FollowUp:
    """Record an answer (the first one stands) and set off what it calls for."""
    f = session.get(FollowUp, followup_id)
    if f is None:
        raise KeyError(followup_id)
    if f.answer is not None:
        return f
    f.answer, f.answered_at, f.note, f.simulated = result, at, note, simulated
    chain = CHAIN.get(result, ())
    f.escalated_to = "、".join(chain)
    session.add(f)
    if result == FollowUpAnswer.SYMPTOMS:
        _refer(session, f, at)
    if chain:
        log_event(
            session,
            activation_id=f.activation_id,
            key=f"followup:{f.person_id}:{f.seq}",
            at=at,
            actor="网格员",
            action=f"健康监测随访：{'有症状' if result == FollowUpAnswer.SYMPTOMS else '联系不上'}，"
            f"已报{f.escalated_to}",
            detail=f"随访第{f.seq}次",
            simulated=simulated,
        )
    return f


def _refer(session: Session, f: FollowUp, at: datetime) -> None:
    """Symptoms: the person is handed to the 卫生院; their remaining follow-ups are not due."""
    s = session.get(Screening, f"{f.activation_id}:{f.person_id}")
    if s is not None and s.status == MonitoringStatus.MONITORING:
        s.status, s.ended_at = MonitoringStatus.REFERRED, at
        session.add(s)
    later = session.exec(
        select(FollowUp).where(
            FollowUp.activation_id == f.activation_id,
            FollowUp.person_id == f.person_id,
            col(FollowUp.seq) > f.seq,
            col(FollowUp.answer).is_(None),
        )
    ).all()
    for row in later:
        session.delete(row)


def end_monitoring(session: Session, *, activation_id: str, today: date, at: datetime) -> int:
    """Monitoring whose last day has passed ends by itself; how many ended now."""
    over = session.exec(
        select(Screening).where(
            Screening.activation_id == activation_id,
            Screening.status == MonitoringStatus.MONITORING,
            col(Screening.monitoring_until) < today,
        )
    ).all()
    for s in over:
        s.status, s.ended_at = MonitoringStatus.ENDED, at
        session.add(s)
    return len(over)


def figures(
    session: Session, activation_id: str, *, until: datetime | None = None
) -> FollowUpFigures:
    rows = session.exec(select(FollowUp).where(FollowUp.activation_id == activation_id)).all()
    due = [r for r in rows if until is None or r.due_at <= until]
    states = session.exec(
        select(Screening.status).where(Screening.activation_id == activation_id)
    ).all()
    return FollowUpFigures(
        due=len(due),
        done=sum(1 for r in due if r.answer is not None),
        escalated=sum(1 for r in due if r.escalated_to),
        referred=sum(1 for s in states if s == MonitoringStatus.REFERRED),
        ended=sum(1 for s in states if s == MonitoringStatus.ENDED),
    )
