"""An epidemic response summed up (the drill's ``summary.json``): counts only, no names."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from sqlmodel import Session, col, select

from sanqing.epidemic import duty, followups, publicity, shuttles, supplies
from sanqing.epidemic.screening import counts
from sanqing.epidemic.steps import context
from sanqing.models import Notice, NoticeStatus, Report, Screening


def summarize(session: Session, activation_id: str) -> dict[str, Any]:
    """The figures of the issue's contract, and who and what the response is."""
    c = context(session, activation_id)
    screened = counts(session, activation_id)
    monitored = session.exec(
        select(Screening.id).where(
            Screening.activation_id == activation_id, col(Screening.monitoring_until).is_not(None)
        )
    ).all()
    ups = followups.figures(session, activation_id)
    roster = duty.figures(session, activation_id, len(c.points(session)))
    stock = supplies.figures(session, activation_id)
    rides = shuttles.figures(session, activation_id, c.res)
    knocks = publicity.figures(session, activation_id)
    return {
        "activation_id": activation_id,
        "plan": "epidemic",
        "town": c.town.name,
        "town_code": c.town.code,
        "level": c.act.level,
        "drill": c.act.drill,
        "status": c.act.status,
        "persons_registered": screened.registered,
        "persons_by_risk": screened.by_risk,
        "home_monitoring": len(monitored),
        "tests": screened.tests,
        "followups": {
            "due": ups.due,
            "done": ups.done,
            "escalated": ups.escalated,
            "referred": ups.referred,
            "ended": ups.ended,
        },
        "duty": {
            "points": roster.points,
            "shifts": roster.shifts,
            "uncovered_hours": roster.uncovered_hours,
            "min_rest_hours": roster.min_rest_hours,
            "max_hours_per_person_day": roster.max_hours_per_person_day,
            "acknowledged": roster.acknowledged,
        },
        "supplies": {k: v for k, v in asdict(stock).items() if k != "lines_short"},
        "shuttles": {
            "residents": rides.residents,
            "assigned": rides.assigned,
            "trips": rides.trips,
            "max_seat_use": rides.max_seat_use,
            "unassigned": rides.unassigned,
            "vaccinated": rides.vaccinated,
        },
        "publicity": asdict(knocks),
        "notices_by_channel": _notices(session, activation_id),
        "reports": _reports(session, activation_id),
    }


def _reports(session: Session, activation_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Report).where(Report.activation_id == activation_id).order_by(col(Report.created_at))
    )
    return [{"id": r.id, "kind": r.kind, "seq": r.seq, "late": r.late} for r in rows]


def _notices(session: Session, activation_id: str) -> dict[str, int]:
    rows = session.exec(
        select(Notice.channel).where(
            Notice.activation_id == activation_id, Notice.status != NoticeStatus.SUPERSEDED
        )
    )
    return dict(sorted(Counter(str(ch) for ch in rows).items()))
