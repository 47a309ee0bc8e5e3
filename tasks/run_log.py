"""What each step of a response writes in its run's log, for the duty officer at night.

One INFO line a step, in Chinese, with the step's figures: village names and counts,
never a resident's name, phone, ID number or household code. Every line is masked
once more before it leaves, in case text from the registry (a village's name, a
warning's headline) holds a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect.logging import get_run_logger
from sqlmodel import Session, col, func, select

from sanqing import response
from sanqing.db import session_scope
from sanqing.labels import label
from sanqing.models import ApprovalDecision, DutyShift, Report, Village
from sanqing.outbox.notices import NoticeResult
from sanqing.privacy import mask_text
from sanqing.reporting.drafts import numbered

#: The run log is for the duty officers: in their language.
LOCALE = "zh-CN"
#: More villages than this in one line are counted, not named.
NAMED_VILLAGES = 3

PLAN_WORDS = {"flood": "防汛", "epidemic": "疫情防控"}
PHASE_WORDS = {"before": "雨前", "during": "雨中", "after": "雨后"}
DECISION_WORDS = {
    ApprovalDecision.APPROVED: "指挥长已批准转移",
    ApprovalDecision.REJECTED: "指挥长不同意转移：不下达转移令，排查、抢通和报告照常进行",
    ApprovalDecision.TIMEOUT_PROCEEDED: "指挥长未在规定时间内答复：按预案继续转移",
    ApprovalDecision.TIMEOUT_HELD: "指挥长未在规定时间内答复：按预案暂不下达转移令",
}


def say(text: str, *args: Any) -> None:
    """One INFO line in the run's log (personal data masked)."""
    get_run_logger().info("%s", mask_text(text % args if args else text))


def villages(codes: Sequence[str]) -> str:
    """The villages as the officer knows them: 石门村、鸡心村, or 石门村等5个村."""
    with session_scope() as session:
        names = dict(
            session.exec(
                select(Village.code, Village.name).where(col(Village.code).in_(codes))
            ).all()
        )
    shown = [names.get(c, c) for c in codes]
    if len(shown) > NAMED_VILLAGES:
        return f"{shown[0]}等{len(shown)}个村"
    return "、".join(shown)


def activated(result: response.ActivationResult, plan_name: str) -> None:
    """启动: the level, the villages, the people on duty."""
    with session_scope() as session:
        on_duty = session.exec(
            select(func.count(func.distinct(DutyShift.cadre_code))).where(
                DutyShift.activation_id == result.activation_id
            )
        ).one()
    say(
        "%s%s%s应急响应：%d个村，值班%d人",
        "启动" if result.created else "继续",
        PLAN_WORDS.get(plan_name, ""),
        label(LOCALE, "level", result.level),
        len(result.village_codes),
        on_duty,
    )


def inspected(
    codes: Sequence[str], phase: str, results: Sequence[response.InspectionResult]
) -> None:
    """隐患排查: points checked, danger found, to watch, still waiting for the monitors."""
    say(
        "%s排查隐患点（%s）：已排查%d处，发现险情%d处，需关注%d处，待监测员回报%d处",
        PHASE_WORDS.get(phase, ""),
        villages(codes),
        sum(r.inspected for r in results),
        sum(r.dangerous for r in results),
        sum(r.watch for r in results),
        sum(r.pending for r in results),
    )


def relocated(
    codes: Sequence[str],
    results: Sequence[response.VillageRelocationResult],
    *,
    urgent_only: bool,
) -> None:
    """人员转移: the households these villages move now (at once, or all the level moves)."""
    households = sum(r.households for r in results)
    if urgent_only and not households:
        return  # nobody moves at once here: the approval's line says what comes next
    say(
        "%s（%s）：转移%d户%d人（特殊群体%d户）",
        "紧急撤离（不等审批）" if urgent_only else "下达转移指令",
        villages(codes),
        households,
        sum(r.people for r in results),
        sum(r.vulnerable_households for r in results),
    )


def sheltered(result: response.ShelterResult) -> None:
    """安置: households placed so far, shelters used, the shortfall."""
    say(
        "安置：已安置%d户，使用%d个安置点，缺口%d户%d人",
        result.placed_households,
        result.shelters_used,
        result.shortfall_households,
        result.shortfall_people,
    )


def notified(codes: Sequence[str], results: Sequence[NoticeResult]) -> None:
    """通知: messages written to the outbox, per channel."""
    by_channel: dict[str, int] = {}
    for r in results:
        for channel, n in r.by_channel.items():
            by_channel[channel] = by_channel.get(channel, 0) + n
    parts = "，".join(f"{label(LOCALE, 'channel', c)}{n}" for c, n in sorted(by_channel.items()))
    say(
        "生成通知（%s）：%d条%s",
        villages(codes),
        sum(r.created for r in results),
        f"（{parts}）" if parts else "",
    )


def roads(result: response.RoadResult) -> None:
    """道路抢通: the roads reported blocked, by where they stand now."""
    say(
        "道路抢通：中断%d处，其中正在抢通%d处，已恢复通行%d处，等待机械%d处",
        result.blocked,
        result.dispatched,
        result.reopened,
        result.waiting_for_machine,
    )


def report_count(session: Session, activation_id: str) -> int:
    """How many reports the activation has: a call that wrote one adds one."""
    return session.exec(
        select(func.count()).select_from(Report).where(Report.activation_id == activation_id)
    ).one()


def report_line(report: Report | None, *, new: bool) -> str:
    """向上报告: which report went to the county, or that nothing changed (read in its session)."""
    if report is None:
        return ""
    if new:
        return f"向县里报送{report.title}"
    name = numbered(report.kind, report.seq, LOCALE, zero=False)
    return f"数字无变化，不再续报（最近一次：{name}）"


def approval_asked(request: response.ApprovalRequest | None) -> None:
    """审批: the question put to the commander, or that none is needed."""
    if request is None:
        say("无需指挥长审批（已批准或预案不要求）")
    else:
        say("请示指挥长批准转移：%s，%d分钟内答复", request.reason, request.timeout_s // 60)


def approval_answered(decision: ApprovalDecision) -> None:
    say(DECISION_WORDS[decision])


def roll_call(result: response.RollCallResult) -> None:
    """点名回报: households by status after the roll call, and those still unconfirmed."""
    totals: dict[str, int] = {}
    for counts in result.villages.values():
        for status, n in counts.items():
            totals[status] = totals.get(status, 0) + n
    parts = "，".join(
        f"{label(LOCALE, 'relocation', s)}{n}户" for s, n in sorted(totals.items()) if n
    )
    say(
        "点名回报（%d个村）：本次更新%d户；这些村现有%s；未核实%d户",
        len(result.villages),
        result.changed,
        parts or "无",
        result.unconfirmed,
    )


def waiting_for_roll_call(left: dict[str, int]) -> None:
    if left:
        say("等待点名回报：%d个村%d户未核实", len(left), sum(left.values()))
    else:
        say("转移户均已核实，无需点名")


def escalated(result: response.EscalationResult) -> None:
    say(
        "未核实户逐级上报（应撤必撤）：%d个村%d户，发出%d条通知",
        result.villages,
        result.households,
        result.notices,
    )


def stand_down(done: bool, *, patrol: str) -> None:
    """雨后巡查 and the end: stood down with the final report, or still open."""
    if done:
        say("%s：结束应急响应，已报送终报，群众可以返回", patrol)
    else:
        say("%s：应急响应继续（等待巡查确认安全或仍有险情）", patrol)


def delivered(by_channel: dict[str, dict[str, int]]) -> None:
    """发送: what one delivery pass did, per channel (nothing due: one short line)."""
    parts = [
        label(LOCALE, "channel", channel)
        + "、".join(f"{label(LOCALE, 'notice_status', s)}{n}条" for s, n in counts.items() if n)
        for channel, counts in sorted(by_channel.items())
    ]
    say("发送一轮：%s", "；".join(parts) if parts else "无待发消息")
