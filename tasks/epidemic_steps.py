"""The epidemic plan's steps as Prefect tasks: a session each, one domain call each.

Idempotence lives in the database (rows keyed by the activation and their subject):
a task run again changes nothing already there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect.logging import get_run_logger

from sanqing.db import session_scope
from sanqing.epidemic import answers as answering
from sanqing.epidemic import steps, summary, support
from sanqing.epidemic.activation import EpidemicActivation
from sanqing.epidemic.scenario import EpidemicAnswers
from sanqing.plans import Level
from tasks.options import db_task


@db_task("activate-epidemic-plan")
def activate_epidemic(
    town: str,
    level: Level,
    drill: bool,
    locale: str,
    scenario: str | None = None,
    now: datetime | None = None,
) -> EpidemicActivation:
    """启动: open or continue the town's epidemic response; every cadre's work arrangement."""
    with session_scope() as session:
        act = steps.activate(
            session, town=town, level=level, drill=drill, locale=locale, scenario=scenario, now=now
        )
    get_run_logger().info(
        "疫情防控%s级响应%s：%s / epidemic response %s (%s villages)",
        act.level.value,
        "启动" if act.created else "继续",
        act.activation_id,
        "opened" if act.created else "continued",
        len(act.village_codes),
    )
    return act


@db_task("import-registrations")
def import_register(town: str, file: str, now: datetime) -> dict[str, int]:
    """The town's register stored before the screening (a drill's sample register)."""
    with session_scope() as session:
        report = steps.import_town_register(session, town=town, file=file, now=now)
    get_run_logger().info(
        "摸排台账：新增%s人，更新%s人，退回%s行 / register: %s new, %s updated, %s refused",
        report.new, report.updated, len(report.problems), report.new, report.updated, len(report.problems),
    )  # fmt: skip
    return {"new": report.new, "updated": report.updated, "refused": len(report.problems)}


@db_task("screen-arrivals")
def screen_arrivals(activation_id: str) -> dict[str, Any]:
    """摸排: everyone registered classed by where they came from; the monitored assigned."""
    with session_scope() as session:
        c = steps.screen_arrivals(session, activation_id)
    get_run_logger().info(
        "摸排：登记%s人，居家健康监测%s人，需检测%s人 / screened %s, monitoring %s, tests %s",
        c.registered, c.monitoring, c.tests, c.registered, c.monitoring, c.tests,
    )  # fmt: skip
    return {"registered": c.registered, "by_risk": c.by_risk, "monitoring": c.monitoring}


@db_task("follow-up")
def follow_up(
    activation_id: str, days: int, locale: str, answers: EpidemicAnswers | None
) -> dict[str, int]:
    """健康监测: the follow-ups due, each grid member's list, what the answers set off."""
    with session_scope() as session:
        f = steps.follow_up(session, activation_id, days=days, locale=locale, answers=answers)
    get_run_logger().info(
        "健康监测随访：应随访%s人次，已随访%s，上报%s，转诊%s / follow-ups due %s, done %s, escalated %s",
        f.due, f.done, f.escalated, f.referred, f.due, f.done, f.escalated,
    )  # fmt: skip
    return {"due": f.due, "done": f.done, "escalated": f.escalated}


@db_task("publicize")
def publicize(activation_id: str, locale: str, answers: EpidemicAnswers | None) -> dict[str, int]:
    """宣传引导: WeChat, loudspeaker, banners, and the door-knocking lists by grid."""
    with session_scope() as session:
        p = support.publicize(session, activation_id, locale=locale, answers=answers)
    get_run_logger().info(
        "敲门行动：%s户中已走访%s户 / door-knocking: %s of %s households reached",
        p.households, p.door_knocked, p.door_knocked, p.households,
    )  # fmt: skip
    return {"households": p.households, "door_knocked": p.door_knocked}


@db_task("staff-points")
def staff_points(
    activation_id: str, days: int, locale: str, answers: EpidemicAnswers | None
) -> dict[str, Any]:
    """24 小时执勤: every point's roster, the reminders, a drill's confirmations."""
    with session_scope() as session:
        d = support.staff_points(session, activation_id, days=days, locale=locale, answers=answers)
    log = get_run_logger()
    log.info(
        "24小时执勤：%s个点位%s班次，缺员%s小时 / duty: %s points, %s shifts, %s h uncovered",
        d.points, d.shifts, d.uncovered_hours, d.points, d.shifts, d.uncovered_hours,
    )  # fmt: skip
    if d.uncovered_hours:
        log.warning(
            "执勤缺员%s小时，须镇里增派人员 / %s h uncovered", d.uncovered_hours, d.uncovered_hours
        )
    return {"points": d.points, "shifts": d.shifts, "uncovered_hours": d.uncovered_hours}


@db_task("supply-points")
def supply_points(activation_id: str, days: int, answers: EpidemicAnswers | None) -> dict[str, int]:
    """物资保障: what every point needs against its stock, requested and delivered."""
    with session_scope() as session:
        s = support.supply_points(session, activation_id, days=days, answers=answers)
    get_run_logger().info(
        "物资保障：申请%s件，到位%s件，缺口%s件 / supplies: %s requested, %s delivered, %s short",
        s.requested, s.delivered, s.short, s.requested, s.delivered, s.short,
    )  # fmt: skip
    return {"requested": s.requested, "delivered": s.delivered, "short": s.short}


@db_task("vaccination-rides")
def drive_to_vaccination(
    activation_id: str, locale: str, answers: EpidemicAnswers | None
) -> dict[str, Any]:
    """接送疫苗接种: residents who asked, in trips; drivers and residents told."""
    with session_scope() as session:
        r = support.drive_to_vaccination(session, activation_id, locale=locale, answers=answers)
    get_run_logger().info(
        "接送接种：%s人报名，%s人已安排%s趟次，%s人未能安排 / rides: %s asked, %s assigned in %s trips",
        r.residents, r.assigned, r.trips, r.unassigned, r.residents, r.assigned, r.trips,
    )  # fmt: skip
    return {"residents": r.residents, "assigned": r.assigned, "trips": r.trips}


@db_task("daily-report")
def report_daily(activation_id: str, days: int, locale: str) -> list[str]:
    """向上报告: each day's epidemic report (a zero report on a day with nothing new)."""
    with session_scope() as session:
        ids = support.report_days(session, activation_id, days=days, locale=locale)
    get_run_logger().info("疫情防控日报%s期已报送 / %s daily reports written", len(ids), len(ids))
    return ids


@db_task("epidemic-report-due")
def report_due(activation_id: str, locale: str) -> str | None:
    """The report schedule: today's epidemic report of a real response once it is due."""
    with session_scope() as session:
        ids = support.report_due(session, activation_id, locale=locale)
    if ids:
        get_run_logger().info(
            "疫情防控日报%s期已报送 / %s daily reports written", len(ids), len(ids)
        )
    return ids[-1] if ids else None


@db_task("end-epidemic-drill")
def end_drill(activation_id: str, days: int) -> None:
    """The drill's days are over: its response ends."""
    with session_scope() as session:
        support.end_drill(session, activation_id, days=days)
    get_run_logger().info(
        "演练%s天结束：疫情防控响应结束 / the drill's %s days are over", days, days
    )


def figures(activation_id: str) -> dict[str, Any]:
    """The response summed up (counts only)."""
    with session_scope() as session:
        return summary.summarize(session, activation_id)


@db_task("record-followups")
def record_followups(
    town: str, rows: list[answering.FollowUpReport], locale: str
) -> dict[str, Any]:
    """健康监测随访登记: the grid members' answers; symptoms and no answer go up the chain."""
    with session_scope() as session:
        r = answering.record_for_town(session, town=town, rows=rows, locale=locale)
    log = get_run_logger()
    log.info(
        "随访登记%s条，上报%s条 / %s follow-ups recorded, %s escalated",
        r.recorded, r.escalated, r.recorded, r.escalated,
    )  # fmt: skip
    for line in r.refused:  # row numbers and reasons only: never a name
        log.warning("未登记 / refused: %s", line)
    return {"recorded": r.recorded, "escalated": r.escalated, "refused": r.refused}
