"""The epidemic plan's steps over a session, as the flow calls them (one task each).

Each step loads what it needs (plan, town resources, mixed groups), works on the
activation's clock (a drill's runs on its scenario's), and is idempotent: its rows
are keyed by the activation and their subject. A drill runs its days at once, with
the scenario's answers (marked simulated); a real run does today's part and leaves
the answers to the people (control room, 收到 links).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from sanqing.epidemic import duty, followups, notices
from sanqing.epidemic.activation import EpidemicActivation, open_epidemic
from sanqing.epidemic.groups import TownGroups, mixed_groups
from sanqing.epidemic.plan import EpidemicPlan, load_epidemic_plan
from sanqing.epidemic.registrations import ImportReport, import_registrations, read_registrations
from sanqing.epidemic.resources import Point, TownResources, load_town_resources
from sanqing.epidemic.scenario import EpidemicAnswers
from sanqing.epidemic.screening import ScreeningCounts, screen
from sanqing.errors import SanqingError
from sanqing.models import Activation, FollowUp, FollowUpAnswer, RegisteredPerson, Town, Village
from sanqing.plans import Level
from sanqing.registry import find_town
from sanqing.response.timeline import clock, local_tz, log_event
from sanqing.settings import get_settings


@dataclass
class Ctx:
    """What every step works with: the activation, its town, plan, level and resources."""

    act: Activation
    town: Town
    plan: EpidemicPlan
    res: TownResources
    groups: TownGroups
    now: datetime

    @property
    def level(self) -> Level:
        return Level(self.act.level)

    @property
    def today(self) -> date:
        return self.now.astimezone(local_tz()).date()

    def notice_context(self) -> dict[str, object]:
        return {
            "town": self.town,
            "level": self.level.value,
            "plan_name": self.plan.levels[self.level].name,
            "drill": self.act.drill,
        }

    def points(self, session: Session) -> list[Point]:
        return duty.staffed_points(session, self.town.code, self.plan, self.level, self.res)


def context(session: Session, activation_id: str) -> Ctx:
    act = session.get(Activation, activation_id)
    if act is None:
        raise SanqingError(f"no activation {activation_id}")
    town = session.get(Town, act.town_code)
    assert town is not None
    return Ctx(
        act=act,
        town=town,
        plan=load_epidemic_plan(),
        res=load_town_resources(town.key),
        groups=mixed_groups(session, town.code),
        # a drill's clock to the minute: its steps, seconds apart, share their times
        now=_minute(clock(session, activation_id)) if act.drill else clock(session, activation_id),
    )


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def activate(
    session: Session,
    *,
    town: str,
    level: Level,
    drill: bool,
    locale: str,
    scenario: str | None = None,
    now: datetime | None = None,
) -> EpidemicActivation:
    """启动: the response opened or continued; every cadre's work arrangement written."""
    t = find_town(session, town)
    plan = load_epidemic_plan()
    load_town_resources(t.key)  # a broken resources file stops the plan before it opens
    result = open_epidemic(
        session, town=t, plan=plan, level=level, drill=drill, scenario=scenario, now=now
    )
    c = context(session, result.activation_id)
    notices.work_arrangements(
        session,
        activation_id=c.act.id,
        town=c.town,
        groups=c.groups,
        ctx=c.notice_context(),
        locale=locale,
    )
    return result


def import_town_register(session: Session, *, town: str, file: str, now: datetime) -> ImportReport:
    """The town's register file (in its folder, or a path) stored before the screening."""
    t = find_town(session, town)
    path = Path(file)
    path = path if path.is_absolute() else get_settings().towns_dir / t.key / path
    register = read_registrations(path)
    return import_registrations(
        session, town=t, register=register, plan=load_epidemic_plan(), now=now
    )


def screen_arrivals(session: Session, activation_id: str) -> ScreeningCounts:
    """摸排: everyone registered classed; the monitored get their grid member."""
    c = context(session, activation_id)
    counts = screen(
        session,
        activation_id=c.act.id,
        town_code=c.town.code,
        plan=c.plan,
        level=c.level,
        groups=c.groups,
        today=c.today,
        now=c.now,
    )
    log_event(
        session,
        activation_id=c.act.id,
        key=f"screened:{c.today.isoformat()}",
        at=c.now,
        actor="网格员",
        action=f"摸排登记{counts.registered}人，居家健康监测{counts.monitoring}人，需检测{counts.tests}人",
        simulated=c.act.drill,
    )
    return counts


def follow_up(
    session: Session, activation_id: str, *, days: int, locale: str, answers: EpidemicAnswers | None
) -> followups.FollowUpFigures:
    """健康监测: the follow-ups of ``days``, the lists, a drill's answers, what they set off."""
    c = context(session, activation_id)
    every = c.plan.levels[c.level].followup_every_hours
    # the follow-ups of today and the days after, up to midnight of the last one
    until = datetime.combine(c.today + timedelta(days=days), time(0), tzinfo=local_tz())
    followups.schedule(session, activation_id=c.act.id, every_hours=every, start=c.now, until=until)
    session.flush()
    ctx = c.notice_context()
    notices.followup_lists(session, activation_id=c.act.id, groups=c.groups, ctx=ctx, locale=locale)
    if answers is not None:
        _simulate_answers(session, c, answers, days=days)
        notices.escalations(session, activation_id=c.act.id, town=c.town, ctx=ctx, locale=locale)
    # monitoring over ends by itself: today's run ends what ended before today; a drill
    # lives its days through, each ending at its midnight
    for d in range(1, days + 1) if answers is not None else (0,):
        day = c.today + timedelta(days=d)
        at = datetime.combine(day, time(0), tzinfo=local_tz())
        followups.end_monitoring(session, activation_id=c.act.id, today=day, at=at)
    return followups.figures(session, c.act.id)


def _simulate_answers(session: Session, c: Ctx, answers: EpidemicAnswers, *, days: int) -> None:
    """A drill's grid members answer every follow-up: healthy, but the scenario's cases."""
    villages = {
        v.name: v.code
        for v in session.exec(select(Village).where(Village.town_code == c.town.code))
    }
    people = session.exec(
        select(RegisteredPerson).where(RegisteredPerson.town_code == c.town.code)
    ).all()
    who = {(p.name, p.village_code): p.id for p in people}
    cases: dict[tuple[str, int], tuple[FollowUpAnswer, str]] = {}
    for case in answers.followups:
        pid = who.get((case.person, villages.get(case.village, "")))
        if pid is None:
            raise SanqingError(
                f"scenario: follow-up of {case.person} ({case.village}): no such person registered"
            )
        cases[(pid, case.day)] = (case.answer, case.note)
    ups = session.exec(
        select(FollowUp).where(FollowUp.activation_id == c.act.id).order_by(col(FollowUp.due_at))
    ).all()
    for f in ups:
        day = (f.due_at.astimezone(local_tz()).date() - c.today).days + 1
        if day > days or f.answer is not None:
            continue
        result, note = cases.get((f.person_id, day), (FollowUpAnswer.HEALTHY, ""))
        if session.get(FollowUp, f.id) is None:  # referred meanwhile: later ones are gone
            continue
        followups.answer(
            session,
            f.id,
            result=result,
            at=f.due_at + timedelta(hours=2),
            note=note,
            simulated=True,
        )
        session.flush()
