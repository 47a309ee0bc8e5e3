"""What people answer in a real epidemic response: follow-ups from the control room or
the terminal, and a cadre's 收到 that confirms their coming shifts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.epidemic import answers, steps, support
from sanqing.errors import SanqingError
from sanqing.models import (
    DutyShift,
    FollowUp,
    FollowUpAnswer,
    MonitoringStatus,
    Notice,
    RegisteredPerson,
    Screening,
    Village,
)
from sanqing.plans import Level
from sanqing.registry import ensure_registry
from sanqing.response.timeline import clock


def open_real_response(tmp: Path) -> str:
    """The sample town's real epidemic response, opened now, with two people who came from
    a high-risk area two days ago registered and screened, and today's follow-ups due."""
    ensure_registry("jifeng")
    came = (date.today() - timedelta(days=2)).isoformat()
    register = tmp / "register.csv"
    register.write_text(
        "姓名,联系电话,村,网格,人员类别,来源地区划代码,离开日期,到达日期\n"
        f"王小明,13912340001,石门村,1网格,返乡人员,420106,{came},{came}\n"
        f"李小红,13912340002,河坝村,2网格,外来人员,420106,{came},{came}\n",
        encoding="utf-8",
    )
    with session_scope() as s:
        steps.import_town_register(s, town="jifeng", file=str(register), now=clock_now())
    with session_scope() as s:
        aid = steps.activate(
            s, town="jifeng", level=Level.I, drill=False, locale="zh-CN"
        ).activation_id
    with session_scope() as s:
        steps.screen_arrivals(s, aid)
        steps.follow_up(s, aid, days=1, locale="zh-CN", answers=None)
        support.staff_points(s, aid, days=1, locale="zh-CN", answers=None)
    return aid


def clock_now():  # type: ignore[no-untyped-def]
    from sanqing.models import utcnow

    return utcnow()


def monitored(aid: str) -> tuple[str, str]:
    """A monitored person's (name, village name)."""
    with session_scope() as s:
        sc = s.exec(
            select(Screening).where(
                Screening.activation_id == aid, Screening.status == MonitoringStatus.MONITORING
            )
        ).first()
        assert sc is not None, "the sample register has people to monitor at level I"
        p = s.get(RegisteredPerson, sc.person_id)
        v = s.get(Village, sc.village_code)
        assert p is not None and v is not None
        return p.name, v.name


def test_a_follow_up_answered_in_the_form_refers_symptoms_and_refuses_bad_rows(
    db_url: str, tmp_path: Path
) -> None:
    aid = open_real_response(tmp_path)
    name, village = monitored(aid)
    rows = [
        answers.FollowUpReport(village=village, person=name, answer="有症状", note="发热38℃"),
        answers.FollowUpReport(village=village, person="查无此人", answer="健康"),
        answers.FollowUpReport(village=village, person=name, answer="健康"),  # nothing due now
    ]
    with session_scope() as s:
        r = answers.record_for_town(s, town="jifeng", rows=rows, locale="zh-CN")
    assert r.recorded == 1 and r.escalated == 1
    assert [line.split("：")[0] for line in r.refused] == ["第2行", "第3行"]
    assert not any("查无此人" in line or name in line for line in r.refused)
    with session_scope() as s:
        answered = s.exec(select(FollowUp).where(col(FollowUp.answer).is_not(None))).all()
        sms = s.exec(select(Notice).where(Notice.purpose == "symptoms")).all()
    assert [f.answer for f in answered] == [FollowUpAnswer.SYMPTOMS]
    assert len(sms) == 1 and "发热38℃" in sms[0].body


def test_the_cli_records_a_follow_up_and_says_when_it_cannot(db_url: str, tmp_path: Path) -> None:
    aid = open_real_response(tmp_path)
    name, village = monitored(aid)
    runner = CliRunner()
    ok = runner.invoke(app, ["followup", village, name, "健康", "--town", "jifeng"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(app, ["followup", village, name, "健康", "--town", "jifeng"])
    assert again.exit_code == 1 and "没有待随访" in again.output
    bad = runner.invoke(app, ["followup", village, name, "还行", "--town", "jifeng"])
    assert bad.exit_code != 0 and "健康, 有症状 or 联系不上" in bad.output


def test_no_running_response_is_said_plainly(db_url: str) -> None:
    ensure_registry("jifeng")
    row = answers.FollowUpReport(village="石门村", person="x", answer="健康")
    with session_scope() as s, pytest.raises(SanqingError, match="no running epidemic response"):
        answers.record_for_town(s, town="jifeng", rows=[row], locale="zh-CN")
    with session_scope() as s, pytest.raises(SanqingError, match="no running response"):
        answers.acknowledge_everywhere(s, town="jifeng", town_code="621221106", cadre="x")


def test_a_cadres_acknowledgement_confirms_their_coming_shifts_only(
    db_url: str, tmp_path: Path
) -> None:
    aid = open_real_response(tmp_path)
    with session_scope() as s:
        first = s.exec(
            select(DutyShift)
            .where(DutyShift.activation_id == aid, col(DutyShift.point_code).is_not(None))
            .order_by(col(DutyShift.starts_at))
        ).first()
        assert first is not None
        cadre = first.cadre_code
        theirs = s.exec(select(DutyShift).where(DutyShift.cadre_code == cadre)).all()
        # the task lists count only once sent: send everything first
        for n in s.exec(select(Notice).where(Notice.activation_id == aid)):
            n.status = "sent"
            s.add(n)
    with session_scope() as s:
        n = answers.acknowledge_everywhere(s, town="jifeng", town_code="621221106", cadre=cadre)
        now = clock(s, aid)
    with session_scope() as s:
        confirmed = [
            x
            for x in s.exec(select(DutyShift).where(DutyShift.cadre_code == cadre))
            if x.acknowledged_at
        ]
    soon = [x for x in theirs if x.starts_at <= now + timedelta(hours=24) and x.ends_at > now]
    assert {x.id for x in confirmed} == {x.id for x in soon} and soon
    assert n >= len(soon)


def test_a_real_responses_daily_report_is_written_once_when_due_never_ahead(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, time

    from sanqing.models import Report
    from sanqing.response.timeline import local_tz

    aid = open_real_response(tmp_path)
    today = clock_now().astimezone(local_tz()).date()
    at = {"now": datetime.combine(today, time(10, 0), tzinfo=local_tz())}
    monkeypatch.setattr(steps, "clock", lambda session, activation_id: at["now"])
    with session_scope() as s:  # level I reports at 12:00: at 10:00 nothing is due yet
        assert support.report_due(s, aid, locale="zh-CN") == []
    at["now"] = datetime.combine(today, time(11, 20), tzinfo=local_tz())
    with session_scope() as s:
        first = support.report_due(s, aid, locale="zh-CN")
    at["now"] = datetime.combine(today, time(12, 30), tzinfo=local_tz())
    with session_scope() as s:
        again = support.report_due(s, aid, locale="zh-CN")
        reports = s.exec(select(Report).where(Report.activation_id == aid)).all()
    assert first == again and len(reports) == 1
    assert reports[0].seq == 1 and not reports[0].late
    assert "截至" in reports[0].text and "11时20分" in reports[0].text
