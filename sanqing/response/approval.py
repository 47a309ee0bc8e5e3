"""The commander's approval (转移审批): what is asked, who is told, and the answer.

The flow asks the question (a paused run in the control room, or the drill's
scenario) and hands the answer here; every decision goes into the timeline.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from sanqing.answers import (
    ApprovalAnswer,
)
from sanqing.errors import SanqingError
from sanqing.models import (
    Activation,
    Approval,
    ApprovalDecision,
    Cadre,
    CadreRole,
    Channel,
    HazardPoint,
    Inspection,
    InspectionStatus,
    Relocation,
    Town,
    Zone,
)
from sanqing.outbox.keys import NoticeKey
from sanqing.outbox.rendering import render
from sanqing.outbox.writer import notice_row, put
from sanqing.plans import ApprovalWhen, Level, OnTimeout, Plan
from sanqing.privacy import mask_text
from sanqing.response.locks import hold_open
from sanqing.response.threats import movers
from sanqing.response.timeline import clock, how_noted, log_event, read_rows
from sanqing.rules.relocation import REASON_CANNOT_JUDGE, REASON_DANGER_FINDING


@dataclass(frozen=True)
class ApprovalRequest:
    """A question to the commander, and what happens when nobody answers it."""

    approval_id: str
    level: str
    reason: str
    timeout_s: int
    on_timeout: OnTimeout
    question: str  # markdown for the control room: what is asked, and why


def request_approval(
    session: Session, *, activation_id: str, plan: Plan, now: datetime | None = None
) -> ApprovalRequest | None:
    """The approval this activation needs before move orders, or None when none is needed.

    Needed when the level's rule says so (always, or for a manual start without a
    warning) and no earlier approval covers this level or a higher one. An open
    request (a run that crashed while waiting) is asked again, not duplicated. None
    too when the activation has ended: nothing is asked for a response that is over.
    """
    now = now or clock(session, activation_id)
    held = hold_open(session, activation_id)
    if held is None or not approval_needed(session, act=held, plan=plan):
        return None
    act = held
    rule = plan.level(act.level).approval
    level = Level(act.level)
    reason = (
        f"{level.label_zh}响应，人工启动（无预警）"
        if act.warning is None
        else f"{level.label_zh}响应（{(act.warning or {}).get('headline') or '预警'}）"
    )
    row = _open_request(session, act=act, reason=reason, now=now)
    on_timeout = "继续按预案转移" if rule.on_timeout == OnTimeout.PROCEED else "暂不下达转移令"
    question = "\n".join(
        [
            f"## 转移审批：{plan.level(act.level).name}",
            "",
            f"- 事由：{reason}",
            f"- 范围：{_scope_text(plan, level)}",
            f"- 隐患排查：{_dangers_text(session, act)}",
            f"- 批准后需转移：{_moves_text(session, act, plan)}",
            f"- 已紧急撤离（不等审批）：{_urgent_text(session, activation_id)}",
            f"- {rule.timeout_minutes:g} 分钟内无答复：{on_timeout}",
            "",
            "批准后立即通知群众转移；不批准则不下达转移令，排查、抢通和报告照常进行。",
        ]
    )
    return ApprovalRequest(
        approval_id=row.id,
        level=act.level,
        reason=reason,
        timeout_s=max(1, int(rule.timeout_minutes * 60)),
        on_timeout=rule.on_timeout,
        question=question,
    )


def _open_request(session: Session, *, act: Activation, reason: str, now: datetime) -> Approval:
    """The question open at the activation's level, or a new one (and its timeline line)."""
    rows = list(
        session.exec(
            select(Approval)
            .where(Approval.activation_id == act.id)
            .order_by(col(Approval.requested_at), col(Approval.id))
        )
    )
    row = next((r for r in rows if r.decision is None and r.level == act.level), None)
    if row is not None:
        return row
    asked = f"{act.level}:{len(rows) + 1}"  # the n-th question to the commander
    row = Approval(
        id=f"{act.id}:{asked}",
        activation_id=act.id,
        level=act.level,
        reason=reason,
        simulated=act.drill,
        requested_at=now,
    )
    session.add(row)
    log_event(
        session,
        activation_id=act.id,
        key=f"approval-asked:{asked}",
        actor="镇应急办",
        action="提请指挥长审批转移",
        detail=reason,
        at=now,
        simulated=act.drill,
    )
    return row


def approval_needed(session: Session, *, act: Activation, plan: Plan) -> bool:
    """Whether the planned moves of ``act`` wait for the commander (no approval covers them yet)."""
    rule = plan.level(act.level).approval
    if rule.when == ApprovalWhen.NEVER or (rule.when == ApprovalWhen.MANUAL and act.warning):
        return False
    rank = Level(act.level).rank
    return not any(
        r.decision and ApprovalDecision(r.decision).moves and Level(r.level).rank >= rank
        for r in session.exec(select(Approval).where(Approval.activation_id == act.id))
    )


def _urgent(session: Session, activation_id: str) -> list[Any]:
    """The households moved at once, as rows rather than ORM objects (hundreds at night)."""
    return read_rows(
        session,
        Relocation,
        col(Relocation.activation_id) == activation_id,
        col(Relocation.urgent) == True,  # noqa: E712
        order_by=(col(Relocation.priority), col(Relocation.household_code)),
    )


def _urgent_text(session: Session, activation_id: str) -> str:
    rels = _urgent(session, activation_id)
    return f"{len(rels)}户{sum(r.people for r in rels)}人" if rels else "无"


def inform_commander(
    session: Session, *, activation_id: str, locale: str, now: datetime | None = None
) -> int:
    """三个紧急撤离: tell the commander who moved at once, without waiting for approval.

    A timeline entry and an SMS to the commander (the town's first leader when the
    activation names none), once per count of urgent households. Returns how many.
    """
    now = now or clock(session, activation_id)
    act = hold_open(session, activation_id)
    if act is None:
        return 0
    rels = _urgent(session, activation_id)
    if not rels:
        return 0
    town = session.get(Town, act.town_code)
    assert town is not None
    commander = _commander(session, act=act, town=town)
    why = _why_urgent(rels)
    people = sum(r.people for r in rels)
    if commander and commander.phone:
        ctx = {
            "drill": act.drill,
            "town": {"name": town.name, "office": town.office, "duty_phone": town.duty_phone},
            "to": {"name": commander.name, "title": commander.title},
            "households": len(rels),
            "people": people,
            "danger_finding": why[REASON_DANGER_FINDING],
            "cannot_judge": why[REASON_CANNOT_JUDGE],
            "night": why["night"],
            "villages": len({r.village_code for r in rels}),
            "at": now,
        }
        _sms_commander(session, act=act, commander=commander, rels=rels, ctx=ctx, locale=locale)
    parts = [
        f"{label}{n}户"
        for label, n in (
            ("排查发现险情", why[REASON_DANGER_FINDING]),
            ("险情不能研判", why[REASON_CANNOT_JUDGE]),
            ("夜间危险区", why["night"]),
        )
        if n
    ]
    log_event(
        session,
        activation_id=act.id,
        key=f"urgent-informed:{len(rels)}",
        actor="镇应急办",
        action="紧急撤离情况报告指挥长",
        detail=f"不等审批已紧急撤离{len(rels)}户{people}人（{'、'.join(parts)}），"
        f"已报告{commander.title + commander.name if commander else '指挥长'}",
        at=now,
        simulated=act.drill,
    )
    return len(rels)


def _commander(session: Session, *, act: Activation, town: Town) -> Cadre | None:
    """The activation's commander, or the town's first leader when it names none."""
    leaders = session.exec(
        select(Cadre)
        .where(Cadre.town_code == town.code, Cadre.role == CadreRole.TOWN_LEADER)
        .order_by(col(Cadre.code))
    ).all()
    commander = session.get(Cadre, act.commander_code) if act.commander_code else None
    return commander or (leaders[0] if leaders else None)


def _why_urgent(rels: list[Any]) -> dict[str, int]:
    """Households per reason they moved at once: a danger found, cannot judge, the night."""
    why: dict[str, int] = defaultdict(int)
    for r in rels:
        for reason in r.reasons:
            if reason in (REASON_DANGER_FINDING, REASON_CANNOT_JUDGE):
                why[reason] += 1
        if not set(r.reasons) & {REASON_DANGER_FINDING, REASON_CANNOT_JUDGE}:
            why["night"] += 1
    return why


def _sms_commander(
    session: Session,
    *,
    act: Activation,
    commander: Cadre,
    rels: list[Any],
    ctx: dict[str, Any],
    locale: str,
) -> None:
    """One SMS per count of urgent households: a later, larger count is news."""
    key = NoticeKey(act.id, Channel.SMS, "urgent", commander.code, str(len(rels)))
    row = notice_row(
        key,
        purpose="urgent_moves",
        village_code=None,
        audience="cadre",
        recipient=commander.code,
        address=commander.phone,
        locale=locale,
        subject="紧急撤离情况报告",
        body=render("notices/urgent.sms.txt", locale=locale, **ctx).strip(),
    )
    put(session, [row])


def _scope_text(plan: Plan, level: Level) -> str:
    scope = plan.level(level).relocate
    parts = []
    if scope.vulnerable_in_hazard_zones:
        parts.append("隐患区内五保户、独居老人、行动不便、留守儿童、困难户")
    if scope.dangerous_house_ratings:
        parts.append(f"{'/'.join(scope.dangerous_house_ratings)}级危房住户")
    risk = {"low": "", "medium": "中高风险", "high": "高风险", "very_high": "极高风险"}
    for zone, name in (("danger", "危险区"), ("alert", "威胁区")):
        bar = scope.risk_bar(Zone(zone))
        if bar is not None and zone in scope.zones:
            parts.append(f"{risk[bar.value]}隐患点{name}全部住户")
    if scope.on_danger_finding:
        parts.append("发现险情的隐患点受威胁户")
    return "；".join(parts) or "无"


def _dangers_text(session: Session, act: Activation) -> str:
    """What the inspection found so far, and how far it got: 「尚未排查」 before any point
    has a result (no finding is not "no danger")."""
    total = len(
        session.exec(
            select(HazardPoint.code).where(col(HazardPoint.village_code).in_(act.village_codes))
        ).all()
    )
    rows = session.exec(
        select(HazardPoint.name, Inspection.hazard_code, Inspection.status)
        .join(Inspection, col(Inspection.hazard_code) == col(HazardPoint.code))
        .where(Inspection.activation_id == act.id)
    ).all()
    done = {code for _, code, status in rows if status != InspectionStatus.ASSIGNED}
    progress = f"已排查{len(done)}处/共{total}处"
    if not done:
        return f"尚未排查（{progress}）"
    names = sorted({name for name, _, status in rows if status == InspectionStatus.DANGER})
    return f"发现险情：{'、'.join(names)}（{progress}）" if names else f"未发现险情（{progress}）"


def _moves_text(session: Session, act: Activation, plan: Plan) -> str:
    """Who the plan moves at this level, on the findings so far (urgent moves included)."""
    found = movers(session, act=act, plan=plan, village_codes=act.village_codes)
    if not found:
        return "无"
    people = sum(c.household.members for c in found)
    vulnerable = sum(1 for c in found if c.vulnerabilities)
    return f"{len(found)}户{people}人（其中五保、独居老人等重点人群{vulnerable}户）"


def decide_approval(
    session: Session,
    *,
    approval_id: str,
    answer: ApprovalAnswer | None,
    on_timeout: OnTimeout,
    simulated: bool = False,
    unattended: bool = False,
    now: datetime | None = None,
) -> ApprovalDecision:
    """Record the commander's answer (or, with none, the plan's timeout rule); first one wins."""
    row = session.get(Approval, approval_id)
    if row is None:
        raise SanqingError(f"no approval request {approval_id!r}")
    now = now or clock(session, row.activation_id)
    if row.decision is not None:
        return ApprovalDecision(row.decision)
    rejected_before = (
        session.exec(
            select(Approval).where(
                Approval.activation_id == row.activation_id,
                Approval.decision == ApprovalDecision.REJECTED,
                col(Approval.level).in_(
                    [lv.value for lv in Level if lv.rank >= Level(row.level).rank]
                ),
            )
        ).first()
        is not None
    )
    if answer is not None:
        decision = ApprovalDecision.APPROVED if answer.approve else ApprovalDecision.REJECTED
        row.approver, row.remarks = answer.name, mask_text(answer.remarks)
    elif on_timeout == OnTimeout.PROCEED and not rejected_before:
        decision = ApprovalDecision.TIMEOUT_PROCEEDED
    else:  # no answer: the plan holds, and a commander's "no" at this level still stands
        decision = ApprovalDecision.TIMEOUT_HELD
    row.decision, row.decided_at = decision, now
    row.simulated, row.unattended = simulated, unattended and answer is None
    session.add(row)
    action = {
        ApprovalDecision.APPROVED: "批准转移",
        ApprovalDecision.REJECTED: "不批准转移",
        ApprovalDecision.TIMEOUT_PROCEEDED: "审批超时未答复，按预案继续转移",
        ApprovalDecision.TIMEOUT_HELD: "审批超时未答复，暂不下达转移令",
    }[decision]
    if decision == ApprovalDecision.TIMEOUT_HELD and rejected_before:
        action = "审批超时未答复，维持指挥长不批准转移的决定"
    log_event(
        session,
        activation_id=row.activation_id,
        key=f"approval:{approval_id.split(':', 1)[1]}",
        actor=row.approver or "指挥长",
        action=action,
        detail=(row.remarks + how_noted(simulated, row.unattended)).strip(),
        at=now,
        simulated=simulated,
    )
    return decision
