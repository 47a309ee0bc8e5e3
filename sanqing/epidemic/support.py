"""The epidemic plan's steps 4–8 over a session: publicity, duty at the points,
supplies, vaccination rides and the daily reports (steps 1–3 are ``steps``).

As there: each loads its context, works on the activation's clock, is idempotent,
and in a drill takes the scenario's answers (marked simulated).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, col, func, select

from sanqing.epidemic import duty, notices, publicity, shuttles, supplies
from sanqing.epidemic.report import write_daily_report
from sanqing.epidemic.scenario import EpidemicAnswers
from sanqing.epidemic.steps import context
from sanqing.errors import SanqingError
from sanqing.models import DutyShift, Village
from sanqing.response.standdown import stand_down
from sanqing.response.timeline import local_tz, log_event


def publicize(
    session: Session, activation_id: str, *, locale: str, answers: EpidemicAnswers | None
) -> publicity.PublicityFigures:
    """宣传引导: the villages' messages and banners, and the door-knocking by grid."""
    c = context(session, activation_id)
    publicity.issue_publicity(
        session,
        activation_id=c.act.id,
        town=c.town,
        plan=c.plan,
        level=c.level,
        groups=c.groups,
        res=c.res,
        locale=locale,
        drill=c.act.drill,
    )
    session.flush()
    if answers is not None:  # a drill's grid members knock on their day's doors at ten
        missed = set(answers.not_knocked)
        for day in range(1, c.res.door_knock_days + 1):
            at = datetime.combine(c.today + timedelta(days=day - 1), time(10), tzinfo=local_tz())
            publicity.record_knocks(session, activation_id=c.act.id, day=day, at=at, missed=missed)
    return publicity.figures(session, c.act.id)


def staff_points(
    session: Session, activation_id: str, *, days: int, locale: str, answers: EpidemicAnswers | None
) -> duty.DutyFigures:
    """24 小时执勤: the roster of every point the level staffs, the reminders, a drill's 叫应."""
    c = context(session, activation_id)
    points = c.points(session)
    # a daily run plans on from the end of what is planned, whole days from the first
    # shift: the roster never restarts, and the same day's run adds nothing
    first, planned = session.exec(
        select(func.min(DutyShift.starts_at), func.max(DutyShift.ends_at)).where(
            DutyShift.activation_id == c.act.id, col(DutyShift.point_code).is_not(None)
        )
    ).one()
    anchor = first or c.now
    end = anchor + timedelta(days=(c.now - anchor) // timedelta(days=1) + days)
    start = planned or c.now
    hours = (end - start).total_seconds() / 3600
    roster = duty.put_on_duty(
        session,
        activation_id=c.act.id,
        points=points,
        groups=c.groups,
        rules=c.plan.duty.rules(),
        start=start.astimezone(local_tz()),
        hours=max(0.0, hours),
    )
    session.flush()
    notices.shift_reminders(
        session, activation_id=c.act.id, groups=c.groups, ctx=c.notice_context(), locale=locale
    )
    if answers is not None:
        _confirm_shifts(session, c.act.id, set(answers.unconfirmed_shifts))
        duty.hand_over(session, activation_id=c.act.id, until=c.now + timedelta(days=days))
    log_event(
        session,
        activation_id=c.act.id,
        key=f"roster:{c.today.isoformat()}",
        at=c.now,
        actor="镇疫情防控办",
        action=f"排定{len(points)}个点位24小时执勤{len(roster.shifts) - len(roster.uncovered)}班次"
        + (f"，{roster.uncovered_hours:g}小时缺员" if roster.uncovered else ""),
        simulated=c.act.drill,
    )
    return duty.figures(session, c.act.id, len(points))


def _confirm_shifts(session: Session, activation_id: str, unconfirmed: set[str]) -> None:
    """A drill's people on duty confirm each shift when reminded; the first shift of the
    points named does not, and the group's leader is called (logged)."""
    shifts = session.exec(
        select(DutyShift)
        .where(DutyShift.activation_id == activation_id)
        .order_by(col(DutyShift.starts_at))
    ).all()
    first_seen: set[str] = set()
    for s in shifts:
        if s.point_code is None:
            continue
        first = s.point_code not in first_seen
        first_seen.add(s.point_code)
        if first and s.point_code in unconfirmed:
            log_event(
                session,
                activation_id=activation_id,
                key=f"shift-unconfirmed:{s.id}",
                at=notices.remind_at(s) + timedelta(minutes=30),
                actor="镇疫情防控办",
                action=f"执勤未确认：{s.post}首班人员未回复，已电话叫应组长",
                simulated=True,
            )
            continue
        duty.acknowledge(session, s.id, at=notices.remind_at(s) + timedelta(minutes=5))


def supply_points(
    session: Session, activation_id: str, *, days: int, answers: EpidemicAnswers | None
) -> supplies.SupplyFigures:
    """物资保障: every staffed point's needs against its stock; a drill's deliveries."""
    c = context(session, activation_id)
    supplies.request_supplies(
        session,
        activation_id=c.act.id,
        plan=c.plan,
        res=c.res,
        points=c.points(session),
        days=days,
        now=c.now,
    )
    session.flush()
    if answers is not None:
        at = c.now + timedelta(hours=6)
        for short in answers.short:
            supplies.record_delivery(
                session,
                activation_id=c.act.id,
                point=short.point,
                item=short.item,
                delivered=short.delivered,
                at=at,
            )
        supplies.deliver_requested(session, activation_id=c.act.id, at=at)
    return supplies.figures(session, c.act.id)


def drive_to_vaccination(
    session: Session, activation_id: str, *, locale: str, answers: EpidemicAnswers | None
) -> shuttles.ShuttleFigures:
    """接送疫苗接种: the residents who asked (a drill's: its villages) in trips, notified;
    a drill's vaccinations confirmed. Rides are planned for the next day."""
    c = context(session, activation_id)
    if answers is None or not answers.shuttles.villages:
        return shuttles.figures(session, c.act.id, c.res)
    names = {
        v.name: v.code
        for v in session.exec(select(Village).where(Village.town_code == c.town.code))
    }
    unknown = [v for v in answers.shuttles.villages if v not in names]
    if unknown:
        raise SanqingError(f"scenario: shuttles: {unknown[0]} is not a village of {c.town.name}")
    households = shuttles.riders_of(
        session, [names[v] for v in answers.shuttles.villages], set(answers.shuttles.declined)
    )
    shuttles.plan_rides(
        session,
        activation_id=c.act.id,
        households=households,
        res=c.res,
        day=c.today + timedelta(days=1),
    )
    session.flush()
    notices.ride_notices(
        session, activation_id=c.act.id, res=c.res, ctx=c.notice_context(), locale=locale
    )
    shuttles.confirm_vaccinated(
        session, activation_id=c.act.id, not_vaccinated=set(answers.shuttles.not_vaccinated)
    )
    return shuttles.figures(session, c.act.id, c.res)


#: A real response's daily report is written from this long before its deadline on.
REPORT_WINDOW = timedelta(hours=1)


def report_days(session: Session, activation_id: str, *, days: int, locale: str) -> list[str]:
    """向上报告: each day's report. A drill lives its days through and writes each half an
    hour before its deadline; a real response writes today's once its time has come
    (from an hour before the deadline: the report schedule calls this), never ahead."""
    c = context(session, activation_id)
    due = c.plan.levels[c.level].daily_report_at
    first = session.exec(select(DutyShift.id).where(DutyShift.activation_id == c.act.id)).first()
    n_points = len(c.points(session)) if first is not None else 0
    # numbered by the day of the response: a daily run writes that day's, once
    opened = c.act.activated_at.astimezone(local_tz()).date()
    written = []
    for n in range(days if c.act.drill else 1):
        day = c.today + timedelta(days=n)
        deadline = datetime.combine(day, due, tzinfo=local_tz())
        if c.act.drill:
            now = deadline - timedelta(minutes=30)
        elif c.now >= deadline - REPORT_WINDOW:
            now = c.now
        else:
            continue
        report = write_daily_report(
            session,
            activation_id=c.act.id,
            seq=(day - opened).days + 1,
            day=day,
            deadline=deadline,
            res=c.res,
            points=n_points,
            locale=locale,
            now=now,
        )
        written.append(report.id)
    return written


def report_due(session: Session, activation_id: str, *, locale: str) -> list[str]:
    """The report schedule's call: today's report of a real response once it is due (a
    drill writes its own)."""
    c = context(session, activation_id)
    return [] if c.act.drill else report_days(session, activation_id, days=1, locale=locale)


def end_drill(session: Session, activation_id: str, *, days: int) -> None:
    """The drill's days are over: the response ends (its points and people free again)."""
    c = context(session, activation_id)
    stand_down(
        session=session,
        activation_id=activation_id,
        reason="演练结束",
        now=c.now + timedelta(days=days),
    )
