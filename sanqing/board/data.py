"""What the situation board (态势看板) shows, read from the app database in one pass.

Every open response (flood and epidemic, drills marked): its villages' moves, the
hazard points found dangerous, roads and machinery, delivery per channel, cadre tasks
still waiting for 收到 with the minutes left, report deadlines and the timeline. Plain
data, JSON-ready; ``sanqing.board.page`` renders it, ``sanqing.board.server`` serves it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from sanqing.delivery.acknowledge import COPIES, NEEDS_ACK, SENT
from sanqing.models import (
    Activation,
    ActivationStatus,
    Cadre,
    Notice,
    NoticeStatus,
    Report,
    ReportKind,
    TimelineEvent,
    Town,
    Village,
    utcnow,
)
from sanqing.plans import load_plan

#: Timeline entries shown per response, newest first.
TIMELINE_ROWS = 30
FLOOD = "flood"


def board(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """The board's data: every open response, newest first, and when it was read."""
    from sanqing.board.geo import town_map

    now = now or utcnow()
    acts = list(
        session.exec(
            select(Activation)
            .where(Activation.status == ActivationStatus.ACTIVE)
            .order_by(col(Activation.activated_at).desc(), col(Activation.id))
        )
    )
    return {
        "generated_at": now.isoformat(),
        "responses": [
            _with_map(_response(session, act, now), town_map(session, act)) for act in acts
        ],
    }


def _with_map(resp: dict[str, Any], town_map: dict[str, Any]) -> dict[str, Any]:
    """The response with its map, and how many points are on its checklist (from the map)."""
    listed = sum(1 for h in town_map["hazards"] if h["state"] != "none")
    resp["totals"]["hazard_points_listed"] = listed
    return resp | {"map": town_map}


def _response(session: Session, act: Activation, now: datetime) -> dict[str, Any]:
    from sanqing.reporting import summarize

    # The flood's figures; an epidemic response shows its delivery, reports and timeline.
    figs = summarize(session=session, activation_id=act.id) if act.plan == FLOOD else {}
    if not figs:
        town = session.get(Town, act.town_code)
        figs = {"town": town.name if town else act.town_code}
    return {
        "activation_id": act.id,
        "town": figs["town"],
        "plan": act.plan,
        "level": act.level,
        "drill": act.drill,
        "since": act.activated_at.isoformat(),
        "state": _state(session, act),
        "villages": figs.get("village_figures", []),
        "totals": {
            k: figs.get(k, 0)
            for k in (
                "households_to_relocate",
                "people_to_relocate",
                "households_relocated",
                "people_relocated",
                "households_refused",
                "households_unreachable",
                "households_unconfirmed",
                "shelter_shortfall_people",
                "hazard_points_inspected",
                "hazard_points_dangerous",
            )
        },
        "dangers": figs.get("dangers", []),
        "roads": figs.get("road_incidents", []),
        "machines_dispatched": figs.get("machines_dispatched", 0),
        "delivery": _delivery(session, act.id),
        "acks": _acks_outstanding(session, act, now),
        "reports": _reports(session, act, now),
        "timeline": _timeline(session, act.id, _village_names(session, act.town_code)),
    }


def _state(session: Session, act: Activation) -> str:
    """Where the response stands, in a word the board labels (board_state)."""
    from sanqing.models import Approval, Patrol

    patrol = session.get(Patrol, act.id)
    if patrol is not None and patrol.confirmed_at is None:
        return "awaiting_patrol"
    waiting = session.exec(
        select(Approval.id).where(
            Approval.activation_id == act.id, col(Approval.decision).is_(None)
        )
    ).first()
    return "awaiting_approval" if waiting else "running"


def _delivery(session: Session, activation_id: str) -> dict[str, dict[str, int]]:
    """{channel: {sent, failed, pending, …}}: delivered and acknowledged count as sent."""
    from sqlalchemy import func

    out: dict[str, dict[str, int]] = defaultdict(lambda: {"sent": 0, "failed": 0, "pending": 0})
    rows = session.exec(
        select(Notice.channel, Notice.status, func.count())
        .where(Notice.activation_id == activation_id, Notice.status != NoticeStatus.SUPERSEDED)
        .group_by(Notice.channel, Notice.status)
    )
    for channel, status, n in rows:
        if status in (NoticeStatus.SENT, NoticeStatus.DELIVERED, NoticeStatus.ACKNOWLEDGED):
            key = "sent"
        elif status in (NoticeStatus.FAILED, NoticeStatus.EXPIRED):
            key = "failed"
        else:
            key = "pending"
        out[channel][key] += n
    return dict(sorted(out.items()))


def _acks_outstanding(session: Session, act: Activation, now: datetime) -> list[dict[str, Any]]:
    """Cadre tasks sent and not yet answered 收到, soonest due first, minutes left (<0: late)."""
    within = timedelta(minutes=load_plan(FLOOD).defaults.acknowledgement.within_minutes)
    rows = session.exec(
        select(Notice).where(
            Notice.activation_id == act.id,
            col(Notice.channel).in_(NEEDS_ACK),
            Notice.audience == "cadre",
            col(Notice.purpose).not_in(COPIES),
            col(Notice.status).in_(SENT),
            col(Notice.acknowledged_at).is_(None),
        )
    )
    cadres = {
        c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == act.town_code))
    }
    villages = _village_names(session, act.town_code)
    out = []
    for n in rows:
        if n.sent_at is None:
            continue
        due = n.sent_at + within
        who = cadres.get(n.recipient)
        out.append(
            {
                "channel": n.channel,
                "who": f"{who.title} {who.name}" if who else n.recipient,
                "village": villages.get(n.village_code or "", ""),
                "sent_at": n.sent_at.isoformat(),
                "due_at": due.isoformat(),
                "minutes_left": round((due - now).total_seconds() / 60),
            }
        )
    return sorted(out, key=lambda a: a["due_at"])


def _reports(session: Session, act: Activation, now: datetime) -> list[dict[str, Any]]:
    """Every report written, met or late, and the next follow-up's deadline (due in …)."""
    from sanqing.reporting.drafts import due_by

    rows = list(
        session.exec(
            select(Report).where(Report.activation_id == act.id).order_by(col(Report.created_at))
        )
    )
    out: list[dict[str, Any]] = [
        {
            "title": r.title,
            "kind": r.kind,
            "deadline_at": r.deadline_at.isoformat(),
            "written_at": r.created_at.isoformat(),
            "late": r.late,
            "status": r.status,
            "minutes_left": None,
        }
        for r in rows
    ]
    follow_ups = sum(1 for r in rows if r.kind == ReportKind.FOLLOW_UP)
    if act.plan == FLOOD:
        plan = load_plan(FLOOD)
        # the 首报 until it is written (from the start of the response), then the next 续报
        first = not any(r.kind == ReportKind.INITIAL for r in rows)
        kind = ReportKind.INITIAL if first else ReportKind.FOLLOW_UP
        event_at = act.activated_at
        due = due_by(kind, 0 if first else follow_ups + 1, act, plan, event_at=event_at, now=now)
        out.append(
            {
                "title": None,
                "kind": kind,
                "deadline_at": due.isoformat(),
                "written_at": None,
                "late": due < now,
                "status": None,
                "minutes_left": round((due - now).total_seconds() / 60),
            }
        )
    return out


def _timeline(
    session: Session, activation_id: str, villages: dict[str, str]
) -> list[dict[str, Any]]:
    """The newest events first; a village's own entries named by the village."""
    rows = session.exec(
        select(TimelineEvent)
        .where(TimelineEvent.activation_id == activation_id)
        .order_by(col(TimelineEvent.at).desc(), col(TimelineEvent.id).desc())
        .limit(TIMELINE_ROWS)
    )
    return [
        {
            "at": e.at.isoformat(),
            "actor": villages.get(e.actor, e.actor),
            "action": e.action,
            "detail": e.detail,
        }
        for e in rows
    ]


def _village_names(session: Session, town_code: str) -> dict[str, str]:
    return {
        v.code: v.name for v in session.exec(select(Village).where(Village.town_code == town_code))
    }
