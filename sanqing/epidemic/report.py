"""Step 8 of the epidemic plan, 向上报告: the daily epidemic report (疫情防控工作日报), and
its zero report (零报告) on a day with nothing new.

Figures as of the report's time, counts only: registered (by risk class), screened,
under monitoring, ended, referred; follow-ups due, done, escalated; duty coverage;
supplies; door-knocking; vaccination rides. Stored once per day (its id is the day's
number), with its deadline from the level (``daily_report_at``), late or not, and
sent up through the outbox like the flood plan's reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, select

from sanqing.db import upsert
from sanqing.epidemic import duty, followups, publicity, shuttles, supplies
from sanqing.epidemic.resources import TownResources
from sanqing.models import (
    Activation,
    ActivationStatus,
    Channel,
    FollowUp,
    FollowUpAnswer,
    MonitoringStatus,
    Report,
    ReportKind,
    Screening,
    Town,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put
from sanqing.response.timeline import local_tz, log_event


@dataclass(frozen=True)
class DayFigures:
    registered: int
    new: int
    by_risk: dict[str, int]
    monitoring: int
    ended: int
    ended_today: int
    referred: int
    referred_today: int
    due_today: int
    done_today: int
    symptoms_today: int
    unreachable_today: int
    zero: bool


def day_figures(session: Session, activation_id: str, day: date) -> DayFigures:
    """The day's figures (local day), from the screening and the follow-ups."""
    tz = local_tz()
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = start + timedelta(days=1)
    screened = session.exec(select(Screening).where(Screening.activation_id == activation_id)).all()
    screened = [s for s in screened if s.screened_at < end]
    ups = session.exec(select(FollowUp).where(FollowUp.activation_id == activation_id)).all()
    today = [f for f in ups if start <= f.due_at < end]
    by_risk: dict[str, int] = {}
    for s in screened:
        by_risk[s.risk] = by_risk.get(s.risk, 0) + 1
    ended = [s for s in screened if s.ended_at is not None and s.ended_at < end]
    new = sum(1 for s in screened if s.screened_at >= start)
    referred_today = sum(
        1 for s in ended if s.status == MonitoringStatus.REFERRED and _since(s.ended_at, start)
    )
    symptoms = sum(1 for f in today if f.answer == FollowUpAnswer.SYMPTOMS)
    return DayFigures(
        registered=len(screened),
        new=new,
        by_risk=by_risk,
        monitoring=sum(
            1
            for s in screened
            if s.monitoring_until is not None and s.monitoring_until >= day and s not in ended
        ),
        ended=sum(1 for s in ended if s.status == MonitoringStatus.ENDED),
        ended_today=sum(
            1 for s in ended if s.status == MonitoringStatus.ENDED and _since(s.ended_at, start)
        ),
        referred=sum(1 for s in ended if s.status == MonitoringStatus.REFERRED),
        referred_today=referred_today,
        due_today=len(today),
        done_today=sum(1 for f in today if f.answer is not None),
        symptoms_today=symptoms,
        unreachable_today=sum(1 for f in today if f.answer == FollowUpAnswer.UNREACHABLE),
        zero=new == 0 and symptoms == 0 and referred_today == 0,
    )


def _since(at: datetime | None, start: datetime) -> bool:
    return at is not None and at >= start


def write_daily_report(
    session: Session,
    *,
    activation_id: str,
    seq: int,
    day: date,
    deadline: datetime,
    res: TownResources,
    points: int,
    locale: str,
    now: datetime,
) -> Report:
    """The day's report (the first written stands), stored and sent up to the county."""
    report_id = f"{activation_id}:{ReportKind.DAILY.value}:{seq}"
    existing = session.get(Report, report_id)
    if existing is not None:
        return existing
    act = session.get(Activation, activation_id)
    assert act is not None
    town = session.get(Town, act.town_code)
    assert town is not None
    ctx = _context(session, act, town, seq=seq, day=day, res=res, points=points, now=now)
    ctx["late"], ctx["deadline"] = now > deadline, deadline
    text = render("reports/epidemic_daily.txt", locale=locale, **ctx)
    title = text.strip().splitlines()[2 if act.drill else 1].strip()
    html = render(
        "reports/epidemic_daily.html", locale=locale, lines=text.splitlines(), title=title, **ctx
    )
    payload = _payload(act, town, ctx, title=title, seq=seq)
    upsert(
        session,
        Report,
        [_report_row(report_id, act, seq, title, text, html, payload, locale, deadline, now)],
    )
    _send_up(session, act, town, seq=seq, title=title, text=text, payload=payload, locale=locale)
    log_event(
        session,
        activation_id=act.id,
        key=f"report:daily:{seq}",
        at=now,
        actor="镇疫情防控办",
        action=f"报送疫情防控工作日报第{seq}期{'（零报告）' if ctx['f'].zero else ''}",
        simulated=act.drill,
    )
    session.flush()
    report = session.get(Report, report_id)
    assert report is not None
    return report


def _context(
    session: Session,
    act: Activation,
    town: Town,
    *,
    seq: int,
    day: date,
    res: TownResources,
    points: int,
    now: datetime,
) -> dict[str, Any]:
    return {
        "town": town,
        "drill": act.drill,
        "level": act.level,
        "seq": seq,
        "day": day,
        "now": now,
        "f": day_figures(session, act.id, day),
        "followups": followups.figures(session, act.id),
        "duty": duty.figures(session, act.id, points, until=now),
        "supplies": supplies.figures(session, act.id),
        "publicity": publicity.figures(session, act.id, until=now),
        "rides": shuttles.figures(session, act.id, res, until=now),
        "flood": _flood_now(session, act),
    }


def _flood_now(session: Session, act: Activation) -> dict[str, Any] | None:
    """三情叠加: the town's flood response running beside this one, in the report's figures
    (a real report sees only a real flood; a drill's sees a drill's too)."""
    from sanqing.reporting.figures import summarize

    where = [
        Activation.town_code == act.town_code,
        Activation.plan == "flood",
        Activation.status == ActivationStatus.ACTIVE,
    ]
    if not act.drill:
        where.append(Activation.drill == False)  # noqa: E712 - SQL expression
    flood = session.exec(select(Activation).where(*where)).first()
    if flood is None:
        return None
    f = summarize(session=session, activation_id=flood.id)
    overlay = f.get("overlay") or {}
    return {
        "level": flood.level,
        "households_relocated": f["households_relocated"],
        "people_relocated": f["people_relocated"],
        "monitored_moved": overlay.get("monitored_people_moved", 0),
        "in_isolation_places": overlay.get("in_isolation_places", 0),
        "mixed": overlay.get("mixed", 0),
    }


def _payload(
    act: Activation, town: Town, ctx: dict[str, Any], *, title: str, seq: int
) -> dict[str, Any]:
    return {
        "report_id": f"{act.id}:{ReportKind.DAILY.value}:{seq}",
        "kind": "epidemic_daily",
        "plan": "epidemic",
        "seq": seq,
        "title": title,
        "town_code": town.code,
        "town": town.name,
        "level": act.level,
        "drill": act.drill,
        "day": ctx["day"].isoformat(),
        "zero": ctx["f"].zero,
        "flood": ctx["flood"],
        "figures": {
            k: _plain(asdict(ctx[k]))
            for k in ("f", "followups", "duty", "supplies", "publicity", "rides")
        },
    }


def _report_row(
    report_id: str,
    act: Activation,
    seq: int,
    title: str,
    text: str,
    html: str,
    payload: dict[str, Any],
    locale: str,
    deadline: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": report_id,
        "activation_id": act.id,
        "kind": ReportKind.DAILY,
        "seq": seq,
        "title": title,
        "text": text,
        "html": html,
        "payload": payload,
        "locale": locale,
        "deadline_at": deadline,
        "created_at": now,
        "late": now > deadline,
    }


def _send_up(
    session: Session,
    act: Activation,
    town: Town,
    *,
    seq: int,
    title: str,
    text: str,
    payload: dict[str, Any],
    locale: str,
) -> None:
    """The report goes up through the outbox like every notice (channel "county")."""
    key = NoticeKey(act.id, Channel.COUNTY, "report", "epidemic_daily", str(seq))
    put(
        session,
        [
            notice_row(
                key,
                purpose="report:epidemic_daily",
                village_code=None,
                audience="county",
                recipient=town.county_code,
                address=None,
                locale=locale,
                subject=title,
                body=text,
                payload=payload,
            )
        ],
    )


def _plain(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures as JSON takes them (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in figures.items()}
