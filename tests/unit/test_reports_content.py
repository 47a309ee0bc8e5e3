"""What the reports upward say, rule by rule (信息报送): each rule on the domain functions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from sanqing import reporting, response
from sanqing.db import session_scope
from sanqing.errors import AnswerError
from sanqing.models import Activation, HazardPoint, Inspection, Relocation, Report, TimelineEvent
from sanqing.plans import Level, PlanConfigError, ReportDeadlines, load_plan
from tests.unit.test_response import NOW, WARNING, activate

ASCII_LEVEL = re.compile(r"(?<![A-Za-z])(?:I|II|III|IV)级")


def _plan_moves(s: object, act: str) -> None:
    plan = load_plan()
    a = s.get(Activation, act)  # type: ignore[attr-defined]
    for v in a.village_codes:
        response.plan_relocations(session=s, activation_id=act, village_code=v, plan=plan, now=NOW)


def _inspect(s: Any, act: str, status: str, at: datetime) -> str:
    """A monitor's finding at the town's first hazard point; its name."""
    hp = s.exec(select(HazardPoint).order_by(HazardPoint.code)).first()
    s.add(
        Inspection(
            id=f"{act}:{hp.code}:during",
            activation_id=act,
            village_code=hp.village_code,
            hazard_code=hp.code,
            phase="during",
            status=status,
            finding="坡体出现新裂缝",
            inspected_at=at,
        )
    )
    s.flush()
    return str(hp.name)


def test_rainfall_comes_from_the_warning_text_or_is_said_to_follow() -> None:
    w = {
        "description": "成县气象台2026年7月12日18时30分发布暴雨橙色预警信号：预计未来6小时内，"
        "我县鸡峰镇、小川镇等地将出现50毫米以上强降水，局地伴有雷电。"
    }
    assert reporting.rainfall(w) == "预计未来6小时内，我县鸡峰镇、小川镇等地将出现50毫米以上强降水"
    assert reporting.rainfall({"description": "请注意防范。"}) == ""
    assert reporting.rainfall(None) == ""


def test_the_phone_report_must_come_before_the_written_one() -> None:
    with pytest.raises(ValueError, match="phone report comes first"):
        ReportDeadlines(phone_within_minutes=90, initial_within_minutes=60)
    assert load_plan().level(Level.III).reports.phone_within_minutes == 30
    assert PlanConfigError  # the plan file names the key when it is wrong


def test_deadlines_count_from_the_warning_not_the_activation(db_url: str) -> None:
    sent = NOW - timedelta(minutes=50)
    act = activate(Level.III, warning=WARNING.model_copy(update={"sent": sent}))
    plan = load_plan()
    with session_scope() as s:
        # 20 minutes after the start, 70 after the warning: the 首报 (60 min) is late
        report = reporting.report_upward(
            session=s, activation_id=act, plan=plan, now=NOW + timedelta(minutes=20)
        )
        assert report is not None and report.late
        assert report.deadline_at == sent + timedelta(minutes=60)
        assert "晚于时限10分钟" in report.text
        phone = s.get(TimelineEvent, f"{act}:report:phone")
        assert phone is not None and phone.action == "电话报告县防指"
        assert "电话报告" in phone.detail and "（已超时）" in phone.detail
        assert "无人员伤亡" in phone.detail and len(phone.detail) < 150  # short: what to say


def test_without_a_warning_the_first_danger_found_starts_the_clock(db_url: str) -> None:
    act = activate(Level.III, warning=None)
    with session_scope() as s:
        a = s.get(Activation, act)
        assert a is not None and reporting.event_time(s, a) == a.activated_at
        found = NOW + timedelta(minutes=40)
        _inspect(s, act, "danger", found)
        assert reporting.event_time(s, a) == found


def test_initial_report_has_every_part_the_county_asks_for(db_url: str) -> None:
    act = activate(Level.III)
    plan = load_plan()
    with session_scope() as s:
        _plan_moves(s, act)
        report = reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        assert report is not None and report.kind == "initial"
        text = report.text
    for part in (
        "一、雨情",
        "二、险情灾情",
        "三、人员伤亡",
        "四、人员转移",
        "五、已采取措施",
        "六、下一步工作",
    ):
        assert part in text, part
    assert "雨量数据待报" in text  # the test warning gives no rainfall figure
    assert "截至2026年7月12日19时00分，无人员伤亡。" in text
    assert "签发人：徐文成（镇党委副书记、镇长）" in text  # the first town leader
    assert "联系人：谢虎建（镇应急管理办公室主任）" in text and "联系电话：0939-" in text
    assert "Ⅲ级" in text and not ASCII_LEVEL.search(text + report.html)


def test_casualties_are_recorded_checked_and_reported(db_url: str) -> None:
    act = activate(Level.III)
    plan = load_plan()
    with session_scope() as s:
        with pytest.raises(AnswerError, match="dead must be a whole number"):
            reporting.record_casualties(s, activation_id=act, dead=-1)
        with pytest.raises(AnswerError, match="nothing to record"):
            reporting.record_casualties(s, activation_id=act)
        with pytest.raises(AnswerError, match="not a village of town"):
            reporting.record_casualties(s, activation_id=act, injured=1, village_code="999")
        reporting.record_casualties(
            s, activation_id=act, injured=2, note="落石砸伤，电话13912345678", now=NOW
        )
        reporting.record_casualties(s, activation_id=act, missing=1, now=NOW)
        assert reporting.casualty_totals(s, act)["injured"] == 2
        report = reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        assert report is not None
    assert "失踪1人、受伤2人（落石砸伤，电话139****5678）" in report.text
    assert "13912345678" not in report.text


def test_follow_up_gives_only_what_changed_numbered_with_its_own_time(db_url: str) -> None:
    act = activate(Level.III)
    plan = load_plan()
    with session_scope() as s:
        _plan_moves(s, act)
        first = reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        rels = list(s.exec(select(Relocation).where(Relocation.activation_id == act)))
        assert len(rels) >= 3
        rels[0].status, rels[1].status = "in_shelter", "with_relatives"
        rels[2].status = "removed"
        for r in rels[:3]:
            s.add(r)
        s.flush()
        later = NOW + timedelta(hours=1)
        follow = reporting.report_upward(session=s, activation_id=act, plan=plan, now=later)
        assert follow is not None and first is not None
        assert follow.kind == "follow_up" and "（续报一）" in follow.title
        moved = sum(r.people for r in rels[:3])
        assert f"新转移3户{moved}人" in follow.text and "依规带离1户" in follow.text
        assert "2026年7月12日19时00分首报以来" in follow.text
        assert follow.text.rstrip().endswith("2026年7月12日20时00分")
        # no repeat of the first report
        assert "雨情" not in follow.text and "已采取措施" not in follow.text
        assert "应转移" not in follow.text
        rels[3].status = "in_shelter"
        s.add(rels[3])
        s.flush()
        second = reporting.report_upward(
            session=s, activation_id=act, plan=plan, now=later + timedelta(hours=1)
        )
        assert second is not None and "（续报二）" in second.title
        assert "新转移1户" in second.text


def test_a_day_with_news_is_a_daily_report_and_a_quiet_day_a_zero_report(db_url: str) -> None:
    act = activate(Level.III)
    plan = load_plan()
    morning = NOW + timedelta(hours=13, minutes=10)  # 08:10 the next day
    with session_scope() as s:
        reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        zero = reporting.daily_report(session=s, activation_id=act, plan=plan, now=morning)
        assert zero is not None and "（7月13日零报告）" in zero.title
        assert "无新增险情灾情，无人员伤亡" in zero.text and len(zero.text) < 400
        # the next day someone was hurt: a 日报 that says so, not a zero report
        reporting.record_casualties(s, activation_id=act, injured=1, now=morning)
        day2 = reporting.daily_report(
            session=s, activation_id=act, plan=plan, now=morning + timedelta(days=1)
        )
        assert day2 is not None and "（7月14日日报）" in day2.title
        assert "零报告" not in day2.text and "受伤1人" in day2.text


def test_vulnerable_households_are_counted_once_and_the_overlap_said(db_url: str) -> None:
    act = activate(Level.III)
    plan = load_plan()
    with session_scope() as s:
        _plan_moves(s, act)
        for r in s.exec(select(Relocation).where(Relocation.activation_id == act)):
            r.status = "in_shelter"
            s.add(r)
        s.flush()
        f = reporting.summarize(session=s, activation_id=act)
        report = reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        assert report is not None
    n = f["vulnerable_households_relocated"]
    assert n and sum(f["vulnerable_by_kind"].values()) >= n
    assert f"特殊群体{n}户" in report.text and "一户可兼有多类" in report.text


def test_final_report_says_where_everyone_is_and_how_they_return(db_url: str) -> None:
    from sanqing.answers import PatrolAnswer
    from sanqing.response import end_response

    act = activate(Level.III)
    plan = load_plan()
    with session_scope() as s:
        _plan_moves(s, act)
        reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        point = _inspect(s, act, "watch", NOW + timedelta(hours=1))
        rels = list(s.exec(select(Relocation).where(Relocation.activation_id == act)))
        danger = [r for r in rels if r.zone == "danger"]
        for r in rels:
            r.status = "in_shelter"
        if danger:
            danger[0].status = "refused"
        for r in rels:
            s.add(r)
        s.flush()
        later = NOW + timedelta(hours=20)
        done = end_response(
            s,
            activation_id=act,
            plan=plan,
            reason="预警解除",
            locale="zh-CN",
            simulated_patrol=PatrolAnswer(
                all_clear=True, name="鸡峰镇雨后巡查组", remarks="石门洞滑坡继续监测"
            ),
            now=later,
        )
        assert done
        final = s.exec(
            select(Report).where(Report.activation_id == act, Report.kind == "final")
        ).one()
    text = final.text
    assert "（终报）" in final.title and "应急响应结束及处置情况的报告" in final.title
    assert "结束防汛Ⅲ级应急响应" in text and "指挥长徐文成" in text
    assert "二、处置经过" in text and "先后报送首报1次" in text
    assert "三、损失和人员伤亡" in text and "无人员伤亡" in text
    assert "集中安置" in text and "投亲靠友" in text and "带离" in text and "已返回" in text
    assert "雨停24小时后" in text and "专业技术人员" in text and f"（{point}）" in text
    assert "鸡峰镇雨后巡查组报：石门洞滑坡继续监测" in text
    if danger:
        assert "危险区内仍在处置1户" in text and danger[0].household_code in text
    else:
        assert "危险区内群众全部转移到位" in text
    assert not ASCII_LEVEL.search(text)
