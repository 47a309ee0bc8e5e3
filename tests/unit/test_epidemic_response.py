"""The epidemic plan's steps on the sample town, without Prefect: screening, follow-ups,
duty, supplies, rides, publicity and the daily report (SQLite, and PostgreSQL in CI)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from sanqing.db import session_scope
from sanqing.epidemic import duty, followups, publicity, shuttles, steps, supplies, support
from sanqing.epidemic.resources import load_town_resources
from sanqing.epidemic.scenario import EpidemicAnswers, FollowUpCase, load_epidemic_scenario
from sanqing.errors import PlanConfigError, SanqingError
from sanqing.models import (
    ArrivalRisk,
    DoorKnock,
    DutyShift,
    FollowUp,
    FollowUpAnswer,
    Household,
    MonitoringStatus,
    Notice,
    RegisteredPerson,
    Report,
    Screening,
    TimelineEvent,
)
from sanqing.plans import Level
from sanqing.registry import ensure_registry
from sanqing.response.timeline import local_tz
from sanqing.rules.roster import DutyRules

START = datetime(2026, 7, 20, 8, 0, tzinfo=local_tz())


def open_town(level: Level = Level.III, *, drill: bool = True) -> str:
    """The sample town with its sample register, its epidemic response open at ``START``."""
    ensure_registry("jifeng")
    with session_scope() as s:
        steps.import_town_register(s, town="jifeng", file="registrations.csv", now=START)
    with session_scope() as s:
        act = steps.activate(s, town="jifeng", level=level, drill=drill, locale="zh-CN", now=START)
    return act.activation_id


def count(s: Session, model: type, activation_id: str) -> int:
    return len(s.exec(select(model).where(model.activation_id == activation_id)).all())  # type: ignore[attr-defined]


def test_screening_classes_everyone_once_and_monitors_by_the_level(db_url: str) -> None:
    aid = open_town(Level.III)
    with session_scope() as s:
        c = steps.screen_arrivals(s, aid)
    # level III monitors high 14 days and medium 7 days from the arrival: as of 07-20 that
    # is the 4 high arrivals of 07-07 or later and the medium one of 07-14
    assert c.registered == 60 and sum(c.by_risk.values()) == 60
    assert c.monitoring == 5
    with session_scope() as s:
        again = steps.screen_arrivals(s, aid)
        assert again == c and count(s, Screening, aid) == 60
        monitored = s.exec(
            select(Screening).where(Screening.status == MonitoringStatus.MONITORING)
        ).all()
        assert all(m.cadre_code and m.monitoring_until >= date(2026, 7, 20) for m in monitored)  # type: ignore[operator]


def test_level_iv_monitors_only_the_high_risk(db_url: str) -> None:
    aid = open_town(Level.IV)
    with session_scope() as s:
        c = steps.screen_arrivals(s, aid)
        risks = {
            r.risk
            for r in s.exec(
                select(Screening).where(Screening.status == MonitoringStatus.MONITORING)
            )
        }
    # level IV: only the high class, 7 days: the two who arrived on 07-14 and 07-15
    assert risks == {ArrivalRisk.HIGH} and c.monitoring == 2


def test_symptoms_refer_the_person_and_cancel_their_later_follow_ups(db_url: str) -> None:
    aid = open_town()
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        person = s.exec(select(RegisteredPerson).where(RegisteredPerson.name == "李燕艳")).one()
        village = "庙坪村"
    answers = EpidemicAnswers(
        followups=[
            FollowUpCase(person="李燕艳", village=village, day=2, answer=FollowUpAnswer.SYMPTOMS)
        ]
    )
    with session_scope() as s:
        f = steps.follow_up(s, aid, days=3, locale="zh-CN", answers=answers)
    with session_scope() as s:
        rows = s.exec(
            select(FollowUp).where(FollowUp.person_id == person.id).order_by(FollowUp.seq)
        ).all()
        screening = s.get(Screening, f"{aid}:{person.id}")
        sms = s.exec(select(Notice).where(Notice.purpose == "symptoms")).all()
    assert [r.answer for r in rows] == [FollowUpAnswer.HEALTHY, FollowUpAnswer.SYMPTOMS]
    assert rows[1].escalated_to == "村医、卫生院"
    assert screening is not None and screening.status == MonitoringStatus.REFERRED
    assert f.referred == 1 and f.escalated == 1 and f.done == f.due
    assert len(sms) == 1 and sms[0].address  # the 卫生院's phone


def test_an_answer_given_twice_counts_once(db_url: str) -> None:
    aid = open_town()
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        steps.follow_up(s, aid, days=1, locale="zh-CN", answers=None)
    with session_scope() as s:
        first = s.exec(select(FollowUp).where(FollowUp.activation_id == aid)).first()
        assert first is not None
        at = first.due_at + timedelta(hours=1)
        followups.answer(s, first.id, result=FollowUpAnswer.UNREACHABLE, at=at)
        followups.answer(s, first.id, result=FollowUpAnswer.HEALTHY, at=at + timedelta(hours=1))
    with session_scope() as s:
        row = s.get(FollowUp, first.id)
        assert row is not None and row.answer == FollowUpAnswer.UNREACHABLE
        assert row.escalated_to == "包片领导、镇疫情防控办"


def test_a_daily_run_continues_the_follow_ups_and_monitoring_ends_by_itself(db_url: str) -> None:
    aid = open_town()
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        steps.follow_up(s, aid, days=1, locale="zh-CN", answers=None)
        day1 = count(s, FollowUp, aid)
        steps.follow_up(s, aid, days=1, locale="zh-CN", answers=None)  # the same day again
        assert count(s, FollowUp, aid) == day1 == 5
    # the next morning's run (the clock moved on a day): the next follow-ups, numbered on
    with session_scope() as s:
        followups.schedule(
            s,
            activation_id=aid,
            every_hours=24,
            start=START + timedelta(days=1),
            until=START + timedelta(days=1, hours=12),
        )
        seqs = sorted(r.seq for r in s.exec(select(FollowUp).where(FollowUp.activation_id == aid)))
        ended = followups.end_monitoring(s, activation_id=aid, today=date(2026, 7, 21), at=START)
    # the two whose monitoring ended on 07-20 have no second follow-up and are ended now
    assert seqs.count(1) == 5 and seqs.count(2) == 3
    assert ended == 2


def test_every_point_is_staffed_around_the_clock_within_the_rules(db_url: str) -> None:
    aid = open_town()
    with session_scope() as s:
        d = support.staff_points(s, aid, days=2, locale="zh-CN", answers=None)
        reminders = s.exec(select(Notice).where(Notice.purpose == "duty_shift")).all()
    assert d.points == 7 and d.uncovered_hours == 0
    assert d.shifts == 7 * 2 * 3  # 8 h shifts, 2 days
    assert d.min_rest_hours is not None and d.min_rest_hours >= 8
    assert d.max_hours_per_person_day <= 12
    assert len(reminders) == d.shifts and all(r.address for r in reminders)
    with session_scope() as s:  # run again the same day: nothing new
        again = support.staff_points(s, aid, days=2, locale="zh-CN", answers=None)
    assert again.shifts == d.shifts


def test_too_few_people_leave_hours_uncovered_and_say_so(db_url: str) -> None:
    aid = open_town(Level.I)  # level I staffs the isolation point too: the town's leaders
    res = load_town_resources("jifeng")
    crowded = [p for p in res.points if p.village is None]  # 检测点 and 集中隔离点: 3 leaders
    with session_scope() as s:
        c = steps.context(s, aid)
        roster = duty.put_on_duty(
            s,
            activation_id=aid,
            points=crowded,
            groups=c.groups,
            rules=DutyRules(),
            start=START,
            hours=24,
        )
        logged = s.exec(
            select(TimelineEvent).where(col(TimelineEvent.action).contains("执勤缺员"))
        ).all()
    # 2 points × 3 shifts a day over 3 leaders with 8 h rest: one evening shift stays empty
    assert roster.uncovered_hours == 8 and len(roster.uncovered) == 1
    assert len(logged) == 1 and "8小时无人可排" in logged[0].action


def test_a_swap_keeps_the_rest_rule_and_is_recorded(db_url: str) -> None:
    aid = open_town()
    with session_scope() as s:
        support.staff_points(s, aid, days=1, locale="zh-CN", answers=None)
        shifts = s.exec(
            select(DutyShift).where(DutyShift.point_code == "JF-P02").order_by(DutyShift.starts_at)
        ).all()
        first, second = shifts[0], shifts[1]
        with pytest.raises(SanqingError, match="rest"):
            duty.swap(
                s,
                second.id,
                to_cadre=first.cadre_code,
                rules=DutyRules(),
                reason="家中有事",
                at=START,
            )
        others = [c for c in steps.context(s, aid).groups.of_village("621221106201").codes]  # type: ignore[union-attr]
        free = next(c for c in others if c not in {x.cadre_code for x in shifts})
        swapped = duty.swap(
            s, second.id, to_cadre=free, rules=DutyRules(), reason="家中有事", at=START
        )
        assert swapped.swapped_from == second.cadre_code or swapped.swapped_from is not None


def test_supplies_request_what_stock_lacks_and_report_shortage(db_url: str) -> None:
    aid = open_town()
    answers = load_epidemic_scenario("epidemic-returnees").answers
    with session_scope() as s:
        fig = support.supply_points(s, aid, days=3, answers=answers)
        with pytest.raises(SanqingError, match="0 or more"):
            supplies.record_delivery(
                s, activation_id=aid, point="JF-P01", item="口罩", delivered=-1, at=START
            )
        with pytest.raises(SanqingError, match="no supply line"):
            supplies.record_delivery(
                s, activation_id=aid, point="JF-P99", item="口罩", delivered=1, at=START
            )
    # the testing point needs 50 kits a day for 3 days and holds 80: 70 asked, 40 came
    assert fig.short == 30 and fig.lines_short == 1
    assert fig.requested - fig.delivered == fig.short


def test_rides_report_who_has_none_and_why(db_url: str) -> None:
    aid = open_town()
    res = load_town_resources("jifeng")
    with session_scope() as s:
        hh = s.exec(select(Household).where(Household.mobility_impaired == True)).all()  # noqa: E712
        plan = shuttles.plan_rides(
            s, activation_id=aid, households=list(hh), res=res, day=date(2026, 7, 21)
        )
        fig = shuttles.figures(s, aid, res)
    wheelchair_places = sum(v.wheelchair_places for v in res.vehicles)
    assert fig.residents == len(hh) and fig.assigned + fig.unassigned == fig.residents
    # every rider here is in a wheelchair: at most the places per round, never a seat
    assert all(sum(r.wheelchair for r in t.riders) <= wheelchair_places for t in plan.trips)
    assert fig.unassigned == len(plan.unassigned) and all(plan.unassigned.values())


def test_door_knocking_reaches_every_household_once_within_the_days(db_url: str) -> None:
    aid = open_town()
    with session_scope() as s:
        support.publicize(
            s, aid, locale="zh-CN", answers=EpidemicAnswers(not_knocked=["621221106201-H0003"])
        )
        n1 = len(s.exec(select(Notice).where(Notice.activation_id == aid)).all())
        support.publicize(s, aid, locale="zh-CN", answers=None)
        n2 = len(s.exec(select(Notice).where(Notice.activation_id == aid)).all())
        knocks = s.exec(select(DoorKnock).where(DoorKnock.activation_id == aid)).all()
        households = len(s.exec(select(Household)).all())
        fig = publicity.figures(s, aid)
    assert n1 == n2  # issued again: nothing new
    assert len(knocks) == households == len({k.household_code for k in knocks})
    assert {k.day for k in knocks} <= {1, 2, 3}
    assert fig.door_knocked == households - 1


def test_daily_reports_count_only_and_a_quiet_day_is_a_zero_report(db_url: str) -> None:
    aid = open_town()
    sc = load_epidemic_scenario("epidemic-returnees")
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        steps.follow_up(s, aid, days=3, locale="zh-CN", answers=sc.answers)
        support.staff_points(s, aid, days=3, locale="zh-CN", answers=sc.answers)
        ids = support.report_days(s, aid, days=3, locale="zh-CN")
        reports = [s.get(Report, i) for i in ids]
        names = [p.name for p in s.exec(select(RegisteredPerson))]
        phones = [p.phone for p in s.exec(select(RegisteredPerson)) if p.phone]
    assert [r.seq for r in reports if r] == [1, 2, 3]
    texts = [r.text for r in reports if r]
    assert "今日新增60人" in texts[0] and "零报告" not in texts[0]
    assert "有症状1人" in texts[1]
    assert "零报告" in texts[2]  # nothing new on the third day
    assert not any(n in t for n in names for t in texts)
    assert not any(p in t for p in phones for t in texts)
    assert all(r is not None and not r.late for r in reports)


def test_a_broken_resources_file_is_refused_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sanqing.epidemic import resources

    bad = tmp_path / "epidemic.yaml"
    bad.write_text(
        "points:\n  - {code: 'a b', name: x, kind: 卡点}\nvehicles: [{code: V, name: v, seats: 0, driver: d, phone: '1'}]\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(resources, "resources_path", lambda town: bad)
    with pytest.raises(PlanConfigError) as e:
        resources.load_town_resources("jifeng")
    assert (
        str(bad) in str(e.value)
        and "points.0.code" in str(e.value)
        and "vehicles.0.seats" in str(e.value)
    )


def test_a_scenario_naming_an_unknown_person_is_refused(db_url: str) -> None:
    aid = open_town()
    answers = EpidemicAnswers(
        followups=[
            FollowUpCase(person="无此人", village="石门村", day=1, answer=FollowUpAnswer.SYMPTOMS)
        ]
    )
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        with pytest.raises(SanqingError, match="无此人"):
            steps.follow_up(s, aid, days=1, locale="zh-CN", answers=answers)


def test_a_second_start_continues_and_only_raises_the_level(db_url: str) -> None:
    aid = open_town(Level.III)
    with session_scope() as s:
        lower = steps.activate(
            s, town="jifeng", level=Level.IV, drill=True, locale="zh-CN", now=START
        )
        higher = steps.activate(
            s, town="jifeng", level=Level.II, drill=True, locale="zh-CN", now=START
        )
        arrangements = s.exec(select(Notice).where(Notice.purpose == "arrangement")).all()
    assert lower.activation_id == higher.activation_id == aid
    assert lower.level == Level.III and higher.level == Level.II
    # one per cadre and village at each level: the raise to II told everyone again, the
    # lower start nobody
    levels = {a.id.rsplit(":", 1)[1] for a in arrangements}
    assert levels == {"III", "II"}
    per_level = {lv: [a for a in arrangements if a.id.endswith(f":{lv}")] for lv in levels}
    assert (
        len(per_level["III"])
        == len(per_level["II"])
        == len({(a.recipient, a.village_code) for a in per_level["II"]})
    )
    assert "Ⅱ级" in per_level["II"][0].body


def test_a_point_in_no_village_of_the_town_is_refused(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sanqing.epidemic import resources

    aid = open_town()
    good = load_town_resources("jifeng")
    broken = good.model_copy(
        update={
            "points": [
                *good.points,
                resources.Point(code="X1", name="x", kind="卡点", village="无名村"),
            ]
        }
    )
    with session_scope() as s:
        c = steps.context(s, aid)
        with pytest.raises(SanqingError, match="无名村"):
            duty.staffed_points(s, c.town.code, c.plan, Level.III, broken)
