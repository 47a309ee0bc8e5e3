"""The people in the loop: the commander's approval, the villages' roll call, the patrol.

Plain functions on a session, like the rest of ``sanqing``: the flows ask the
question (a paused run in the control room, or the drill's scenario) and hand
the answer here. Every decision and every answer goes into the timeline, with
counts only: resident names stay in the registry and the cadres' lists.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from sanqing.answers import (
    ApprovalAnswer,
    Others,
    PatrolAnswer,
    RollCallStatus,
    VillageRollCall,
)
from sanqing.db import upsert
from sanqing.errors import AnswerError, SanqingError
from sanqing.labels import label
from sanqing.models import (
    Activation,
    ActivationStatus,
    Approval,
    ApprovalDecision,
    Cadre,
    CadreRole,
    Channel,
    Escalation,
    HazardPoint,
    Household,
    Inspection,
    InspectionPhase,
    InspectionStatus,
    Notice,
    NoticeStatus,
    Patrol,
    Relocation,
    RelocationStatus,
    ReportKind,
    Town,
    Village,
    Zone,
    utcnow,
)
from sanqing.plans import ApprovalWhen, Level, OnTimeout, Plan
from sanqing.privacy import mask_text
from sanqing.rendering import render
from sanqing.response import (
    clock,
    get_activation,
    hold_open,
    inspect_hazards,
    lock_town,
    log_event,
    stand_down,
)
from sanqing.rules.relocation import REASON_CANNOT_JUDGE, REASON_DANGER_FINDING

#: Households whose safety nobody has confirmed: they are escalated when overdue.
UNCONFIRMED = (RelocationStatus.ORDERED, RelocationStatus.UNREACHABLE)
#: 应撤必撤: those chased up the chain — unconfirmed, and those who refuse.
CHASED = (*UNCONFIRMED, RelocationStatus.REFUSED)

_ROLL_CALL_STATUS = {
    RollCallStatus.MOVED: RelocationStatus.MOVED,
    RollCallStatus.IN_SHELTER: RelocationStatus.IN_SHELTER,
    RollCallStatus.REFUSED: RelocationStatus.REFUSED,
    RollCallStatus.UNREACHABLE: RelocationStatus.UNREACHABLE,
    RollCallStatus.WITH_RELATIVES: RelocationStatus.WITH_RELATIVES,
    RollCallStatus.REMOVED: RelocationStatus.REMOVED,
}


def _how(simulated: bool, unattended: bool = False) -> str:
    if simulated:
        return "（演练模拟）"
    return "（无人值守，按预案超时规则）" if unattended else ""


# --- approval (转移审批) ---------------------------------------------------------------------


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
    manual = act.warning is None
    rows = list(
        session.exec(
            select(Approval)
            .where(Approval.activation_id == activation_id)
            .order_by(col(Approval.requested_at), col(Approval.id))
        )
    )
    level = Level(act.level)
    reason = (
        f"{level.label_zh}响应，人工启动（无预警）"
        if manual
        else f"{level.label_zh}响应（{(act.warning or {}).get('headline') or '预警'}）"
    )
    row = next((r for r in rows if r.decision is None and r.level == act.level), None)
    if row is None:
        row = Approval(
            id=f"{activation_id}:{act.level}:{len(rows) + 1}",
            activation_id=activation_id,
            level=act.level,
            reason=reason,
            simulated=act.drill,
            requested_at=now,
        )
        session.add(row)
        log_event(
            session,
            activation_id=activation_id,
            key=f"approval-asked:{row.id.rsplit(':', 2)[-2]}:{row.id.rsplit(':', 1)[-1]}",
            actor="镇应急办",
            action="提请指挥长审批转移",
            detail=reason,
            at=now,
            simulated=act.drill,
        )
    timeout_s = max(1, int(rule.timeout_minutes * 60))
    on_timeout = "继续按预案转移" if rule.on_timeout == OnTimeout.PROCEED else "暂不下达转移令"
    question = "\n".join(
        [
            f"## 转移审批：{plan.level(act.level).name}",
            "",
            f"- 事由：{reason}",
            f"- 范围：{_scope_text(plan, level)}",
            f"- 排查发现险情：{_dangers_text(session, activation_id)}",
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
        timeout_s=timeout_s,
        on_timeout=rule.on_timeout,
        question=question,
    )


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


def _urgent(session: Session, activation_id: str) -> list[Relocation]:
    return list(
        session.exec(
            select(Relocation)
            .where(Relocation.activation_id == activation_id, Relocation.urgent == True)  # noqa: E712
            .order_by(col(Relocation.priority), col(Relocation.household_code))
        )
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
    leaders = session.exec(
        select(Cadre)
        .where(Cadre.town_code == town.code, Cadre.role == CadreRole.TOWN_LEADER)
        .order_by(col(Cadre.code))
    ).all()
    commander = session.get(Cadre, act.commander_code) if act.commander_code else None
    commander = commander or (leaders[0] if leaders else None)
    why: dict[str, int] = defaultdict(int)
    for r in rels:
        for reason in r.reasons:
            if reason in (REASON_DANGER_FINDING, REASON_CANNOT_JUDGE):
                why[reason] += 1
        if not set(r.reasons) & {REASON_DANGER_FINDING, REASON_CANNOT_JUDGE}:
            why["night"] += 1
    people = sum(r.people for r in rels)
    ctx = {
        "drill": act.drill,
        "town": {"name": town.name, "office": town.office, "duty_phone": town.duty_phone},
        "to": {
            "name": commander.name if commander else "",
            "title": commander.title if commander else "",
        },
        "households": len(rels),
        "people": people,
        "danger_finding": why[REASON_DANGER_FINDING],
        "cannot_judge": why[REASON_CANNOT_JUDGE],
        "night": why["night"],
        "villages": len({r.village_code for r in rels}),
        "at": now,
    }
    if commander and commander.phone:
        upsert(
            session,
            Notice,
            [
                {
                    "id": f"{act.id}:sms:urgent:{commander.code}:{len(rels)}",
                    "activation_id": act.id,
                    "village_code": None,
                    "channel": Channel.SMS.value,
                    "purpose": "urgent_moves",
                    "audience": "cadre",
                    "recipient": commander.code,
                    "address": commander.phone,
                    "locale": locale,
                    "subject": "紧急撤离情况报告",
                    "body": render("notices/urgent.sms.txt", locale=locale, **ctx).strip(),
                    "body_format": "text",
                    "status": NoticeStatus.PENDING.value,
                    "attempts": 0,
                    "created_at": utcnow(),  # the outbox keeps wall time, a drill too
                }
            ],
        )
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


def _dangers_text(session: Session, activation_id: str) -> str:
    names = sorted(
        set(
            session.exec(
                select(HazardPoint.name)
                .join(Inspection, col(Inspection.hazard_code) == col(HazardPoint.code))
                .where(
                    Inspection.activation_id == activation_id,
                    Inspection.status == InspectionStatus.DANGER,
                )
            )
        )
    )
    return "、".join(names) if names else "无"


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
    row.decision, row.decided_at = decision.value, now
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
        detail=(row.remarks + _how(simulated, row.unattended)).strip(),
        at=now,
        simulated=simulated,
    )
    return decision


# --- roll call (点名) -------------------------------------------------------------------------


@dataclass
class RollCallResult:
    """Per village: households by status after the roll call, and the unconfirmed total."""

    villages: dict[str, dict[str, int]] = field(default_factory=dict)
    changed: int = 0

    @property
    def unconfirmed(self) -> int:
        return sum(v.get(RelocationStatus.ORDERED.value, 0) for v in self.villages.values())


def record_roll_call(
    session: Session,
    *,
    activation_id: str,
    roll_calls: Sequence[VillageRollCall],
    simulated: bool = False,
    now: datetime | None = None,
) -> RollCallResult:
    """Apply the villages' roll calls to the relocations; all of it, or nothing when any is bad.

    A household is named by its code or by its head's name when that is unique in the
    village. Households not listed take ``others``. A household already in a shelter
    stays there when the roll call says only "moved".
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    villages = {
        v.code: v
        for v in session.exec(select(Village).where(col(Village.code).in_(act.village_codes)))
    }
    by_name = {v.name: code for code, v in villages.items()}
    problems: list[str] = []
    plan: list[tuple[str, dict[str, RelocationStatus], Others]] = []
    seen: set[str] = set()
    removed_by: dict[str, str] = {}
    rels_by_village: dict[str, dict[str, Relocation]] = {}
    for i, rc in enumerate(roll_calls):
        where = f"villages[{i}]"
        code = rc.village if rc.village in villages else by_name.get(rc.village.strip())
        if code is None:
            problems.append(f"{where}.village: {rc.village!r} is not a village of this response")
            continue
        if code in seen:
            problems.append(f"{where}.village: {rc.village!r} is reported twice in one answer")
            continue
        seen.add(code)
        rels = {
            r.household_code: r
            for r in session.exec(
                select(Relocation).where(
                    Relocation.activation_id == activation_id, Relocation.village_code == code
                )
            )
        }
        rels_by_village[code] = rels
        heads: dict[str, list[str]] = defaultdict(list)
        for code_, head in session.exec(
            select(Household.code, Household.head_name).where(col(Household.code).in_(list(rels)))
        ):
            heads[head].append(code_)
        statuses: dict[str, RelocationStatus] = {}
        for j, h in enumerate(rc.households):
            key = h.household.strip()
            hcode: str | None = key if key in rels else None
            if hcode is None and len(heads.get(key, [])) == 1:
                hcode = heads[key][0]
            if hcode is None:
                # The position, never the value: a typed name must not reach the logs.
                why = (
                    "the head's name is shared by several households: give the household code"
                    if len(heads.get(key, [])) > 1
                    else "not on this village's relocation list (give the household code, or "
                    "the head's name as the register writes it)"
                )
                problems.append(f"{where}.households[{j}]: {why}")
                continue
            if hcode in statuses:
                problems.append(f"{where}.households[{j}]: the same household is listed twice")
                continue
            if h.status == RollCallStatus.REMOVED and not (h.by.strip() or rc.reporter.strip()):
                problems.append(
                    f"{where}.households[{j}]: 带离 must say who removed the household (by)"
                )
                continue
            statuses[hcode] = _ROLL_CALL_STATUS[h.status]
            if h.status == RollCallStatus.REMOVED:
                removed_by[hcode] = mask_text((h.by or rc.reporter).strip())
        plan.append((code, statuses, rc.others))
    if problems:
        raise AnswerError(problems)

    result = RollCallResult()
    for code, statuses, others in plan:
        for hcode, r in rels_by_village[code].items():
            new = statuses.get(hcode)
            if (
                new is None
                and others != Others.UNCONFIRMED
                and r.status == RelocationStatus.ORDERED
            ):
                new = RelocationStatus(others.value)
            if new is None:
                continue
            if new == RelocationStatus.IN_SHELTER and r.shelter_code is None:
                new = RelocationStatus.MOVED  # no place was assigned: moved elsewhere
            if new == RelocationStatus.MOVED and r.status == RelocationStatus.IN_SHELTER:
                continue
            if new != r.status:
                r.status, r.updated_at = new.value, now
                if new == RelocationStatus.REMOVED:
                    r.removed_by, r.removed_at = removed_by[hcode], now
                session.add(r)
                result.changed += 1
        counts = _counts(rels_by_village[code].values())
        result.villages[code] = counts
        digest = hashlib.sha1(repr(sorted(counts.items())).encode()).hexdigest()[:10]
        log_event(
            session,
            activation_id=activation_id,
            key=f"roll-call:{code}:{digest}",
            actor=villages[code].name,
            action="点名回报",
            detail=_counts_text(counts) + _how(simulated),
            at=now,
            simulated=simulated,
        )
    return result


def _counts(rels: object) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rels:  # type: ignore[attr-defined]
        out[r.status] += 1
    return dict(out)


def _counts_text(counts: dict[str, int]) -> str:
    order = [
        RelocationStatus.IN_SHELTER,
        RelocationStatus.WITH_RELATIVES,
        RelocationStatus.MOVED,
        RelocationStatus.REMOVED,
        RelocationStatus.REFUSED,
        RelocationStatus.UNREACHABLE,
        RelocationStatus.ORDERED,
    ]
    return "，".join(
        f"{label('zh-CN', 'relocation', s.value)}{counts[s.value]}户"
        for s in order
        if counts.get(s.value)
    )


def outstanding(session: Session, activation_id: str) -> dict[str, int]:
    """Households not yet confirmed (ordered, no answer), per village code."""
    out: dict[str, int] = defaultdict(int)
    for code in session.exec(
        select(Relocation.village_code).where(
            Relocation.activation_id == activation_id,
            Relocation.status == RelocationStatus.ORDERED,
        )
    ):
        out[code] += 1
    return dict(out)


def simulate_roll_call(
    session: Session, *, activation_id: str, listed: Sequence[VillageRollCall]
) -> RollCallResult:
    """A drill's roll call: the scenario's villages as written, every other one all in shelter.

    A scenario written for another level may name households this level does not move:
    then every village reports all in shelter, and the timeline says why.
    """
    act = get_activation(session, activation_id)
    names = dict(
        session.exec(
            select(Village.code, Village.name).where(col(Village.code).in_(act.village_codes))
        ).all()
    )

    def everyone_else(given: set[str]) -> list[VillageRollCall]:
        return [
            VillageRollCall(village=code, others=Others.IN_SHELTER, reporter="演练")
            for code in act.village_codes
            if code not in given and names.get(code) not in given
        ]

    given = {rc.village for rc in listed}
    try:  # a refused answer writes nothing: record_roll_call checks it all first
        return record_roll_call(
            session,
            activation_id=activation_id,
            roll_calls=[*listed, *everyone_else(given)],
            simulated=True,
        )
    except AnswerError as exc:
        log_event(
            session,
            activation_id=activation_id,
            key=f"roll-call-script:{act.level}",
            actor="演练导调",
            action="演练脚本点名不适用",
            detail=f"本级转移名单与脚本不符（{len(exc.problems)}处），按全部到位模拟",
            simulated=True,
        )
        return record_roll_call(
            session, activation_id=activation_id, roll_calls=everyone_else(set()), simulated=True
        )


def simulate_follow_up(
    session: Session, *, activation_id: str, listed: Sequence[VillageRollCall], round_: int
) -> RollCallResult:
    """A drill's report back from a step up the chain: only the households it names change.

    A script that does not fit this level's list changes nothing, and the timeline says so.
    """
    only_named = [rc.model_copy(update={"others": Others.UNCONFIRMED}) for rc in listed]
    try:
        return record_roll_call(
            session, activation_id=activation_id, roll_calls=only_named, simulated=True
        )
    except AnswerError as exc:
        act = get_activation(session, activation_id)
        log_event(
            session,
            activation_id=activation_id,
            key=f"follow-up-script:{act.level}:{round_}",
            actor="演练导调",
            action="演练脚本核实回报不适用",
            detail=f"第{round_}轮核实回报与本级转移名单不符（{len(exc.problems)}处），未采用",
            simulated=True,
        )
        return RollCallResult()


@dataclass(frozen=True)
class EscalationResult:
    households: int
    villages: int
    notices: int


#: 应撤必撤: the steps a household nobody confirmed safe goes up, one per roll-call period.
STEP_SECRETARY = "roll_call"  # the village's first secretary checks door to door
STEP_TOWN_LEADER = "town_leader"  # then the town leader
STEP_REMOVAL = "removal"  # then 带离: the town removes a refusing household (danger zone, Ⅱ/Ⅰ)
CHAIN = (STEP_SECRETARY, STEP_TOWN_LEADER, STEP_REMOVAL)


def _next_step(rel: Relocation, done: Sequence[str], level: Level) -> str | None:
    """The household's next step up the chain, or None when it has gone as far as it goes."""
    step = next((s for s in CHAIN if s not in done), None)
    if step == STEP_REMOVAL and not (
        rel.status == RelocationStatus.REFUSED
        and (rel.zone == Zone.DANGER or level.rank >= Level.II.rank)
    ):
        return None  # 带离 is for those who refuse, in a danger zone or at Ⅱ/Ⅰ
    return step


def escalate_unconfirmed(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    locale: str,
    now: datetime | None = None,
    overdue_only: bool = True,
) -> EscalationResult:
    """应撤必撤: households nobody confirmed safe, or that refuse, go one step up the chain.

    Unconfirmed (ordered, unreachable) and refusing households go to the village's
    first secretary, then to the town leader; a refusing household in a danger zone,
    or at Ⅱ/Ⅰ, then goes to 带离 (the town removes it under the local regulations,
    recorded with who and when by a roll call ``removed``). One step per call: with
    ``overdue_only``, a step is taken only a roll-call period after the order or the
    step before. The recipient gets an SMS with the count and a task list with the
    households (the town leader when the village has no first secretary).
    """
    now = now or clock(session, activation_id)
    held = hold_open(session, activation_id)
    if held is None:  # ended: nobody is chased for a response that is over
        return EscalationResult(0, 0, 0)
    act = held
    level = Level(act.level)
    period = timedelta(minutes=plan.level(act.level).roll_call.within_minutes)
    done: dict[str, dict[str, datetime]] = defaultdict(dict)
    for e in session.exec(select(Escalation).where(Escalation.activation_id == act.id)):
        done[e.household_code][e.kind] = e.at
    steps: dict[str, list[Relocation]] = defaultdict(list)
    for r in session.exec(
        select(Relocation)
        .where(
            Relocation.activation_id == act.id,
            col(Relocation.status).in_([s.value for s in CHASED]),
        )
        .order_by(col(Relocation.priority), col(Relocation.household_code))
    ):
        taken = done.get(r.household_code, {})
        step = _next_step(r, list(taken), level)
        if step is None:
            continue
        since = max(taken.values(), default=r.ordered_at)
        if overdue_only and _aware(since) > now - period:
            continue
        steps[step].append(r)
    if not steps:
        return EscalationResult(0, 0, 0)
    town = session.get(Town, act.town_code)
    assert town is not None
    cadres = {c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == town.code))}
    leader = next(
        (
            c
            for c in sorted(cadres.values(), key=lambda c: c.code)
            if c.role == CadreRole.TOWN_LEADER
        ),
        None,
    )
    rels = [r for step in CHAIN for r in steps.get(step, [])]
    households = {
        h.code: h
        for h in session.exec(
            select(Household).where(col(Household.code).in_([r.household_code for r in rels]))
        )
    }
    notices = 0
    villages: set[str] = set()
    for step in CHAIN:
        by_village: dict[str, list[Relocation]] = defaultdict(list)
        for r in steps.get(step, []):
            by_village[r.village_code].append(r)
        for vcode, vrels in sorted(by_village.items()):
            village = session.get(Village, vcode)
            assert village is not None
            villages.add(vcode)
            to = leader
            if step == STEP_SECRETARY:
                to = next(
                    (
                        c
                        for c in sorted(cadres.values(), key=lambda c: c.code)
                        if c.village_code == vcode and c.role == CadreRole.FIRST_SECRETARY
                    ),
                    leader,
                )
            notices += _escalate_village(
                session,
                act=act,
                town=town,
                village=village,
                rels=vrels,
                households=households,
                cadres=cadres,
                to=to,
                step=step,
                level_name=plan.level(act.level).name,
                locale=locale,
                now=now,
            )
    return EscalationResult(households=len(rels), villages=len(villages), notices=notices)


def _aware(at: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were written in UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _escalate_village(
    session: Session,
    *,
    act: Activation,
    town: Town,
    village: Village,
    rels: list[Relocation],
    households: dict[str, Household],
    cadres: dict[str, Cadre],
    to: Cadre | None,
    step: str,
    level_name: str,
    locale: str,
    now: datetime,
) -> int:
    """One step up the chain for one village's households: notices, records, the timeline."""
    items = [
        {
            "head": households[r.household_code].head_name,
            "group": households[r.household_code].group_name,
            "address": households[r.household_code].address,
            "members": r.people,
            "status": r.status,
            "cadre": cadres[r.cadre_code].name if r.cadre_code in cadres else "",
            "vulnerabilities": r.vulnerabilities,
        }
        for r in rels
    ]
    ctx = {
        "drill": act.drill,
        "town": {"name": town.name, "office": town.office, "duty_phone": town.duty_phone},
        "village": {"name": village.name},
        "to": {"name": to.name if to else "", "title": to.title if to else ""},
        "level_name": level_name,
        "households": items,
        "people": sum(r.people for r in rels),
        "unreachable": sum(1 for r in rels if r.status == RelocationStatus.UNREACHABLE),
        "refused": sum(1 for r in rels if r.status == RelocationStatus.REFUSED),
        "step": step,
        "at": now,
    }
    codes = ",".join(r.household_code for r in rels)
    # the first step keeps the ids it always had; later steps name themselves
    batch = hashlib.sha1(
        (codes if step == STEP_SECRETARY else f"{step}:{codes}").encode()
    ).hexdigest()[:10]
    recipient = to.code if to else village.code
    rows = []
    for channel, template, fmt in (
        (Channel.SMS, "notices/escalation.sms.txt", "text"),
        (Channel.TASK_LIST, "notices/escalation.txt", "text"),
    ):
        if channel == Channel.SMS and not (to and to.phone):
            continue
        rows.append(
            {
                "id": f"{act.id}:{channel.value}:escalation:{recipient}:{batch}",
                "activation_id": act.id,
                "village_code": village.code,
                "channel": channel.value,
                "purpose": "escalation",
                "audience": "cadre",
                "recipient": recipient,
                "address": to.phone if to and channel == Channel.SMS else None,
                "locale": locale,
                "subject": f"{village.name}{'拒不转移户带离' if step == STEP_REMOVAL else '未核实转移户'}",
                "body": render(template, locale=locale, **ctx).strip(),
                "body_format": fmt,
                "status": NoticeStatus.PENDING.value,
                "attempts": 0,
                "created_at": utcnow(),  # the outbox keeps wall time, a drill too
            }
        )
    upsert(session, Notice, rows)
    upsert(
        session,
        Escalation,
        [
            {
                "id": f"{act.id}:{r.household_code}:{step}",
                "activation_id": act.id,
                "village_code": village.code,
                "household_code": r.household_code,
                "kind": step,
                "status_then": r.status,
                "to_cadre_code": to.code if to else None,
                "at": now,
            }
            for r in rels
        ],
    )
    whom = f"{to.title if to else ''}{to.name if to else '镇带班领导'}"
    if step == STEP_REMOVAL:
        action = "拒不转移户组织带离"
        detail = (
            f"{village.name}{len(rels)}户{ctx['people']}人经劝导仍拒不转移，"
            f"已交{whom}依法组织带离（应撤必撤）"
        )
    else:
        action = "未核实转移户上报" if step == STEP_SECRETARY else "未核实转移户上报镇领导"
        detail = (
            f"{village.name}{len(rels)}户{ctx['people']}人未确认转移到位"
            f"（其中联系不上{ctx['unreachable']}户、拒绝转移{ctx['refused']}户），"
            f"已交{whom}入户核实"
        )
    log_event(
        session,
        activation_id=act.id,
        key=f"escalated:{village.code}:{batch}",
        actor="镇应急办",
        action=action,
        detail=detail,
        at=now,
        simulated=act.drill,
    )
    return len(rows)


# --- after-rain patrol and stand-down (雨后巡查) --------------------------------------------------


def request_stand_down(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    reason: str,
    now: datetime | None = None,
    assign_checks: bool = True,
) -> bool:
    """Stand the activation down if its after-rain patrol allows; else open the patrol gate.

    Returns whether it is stood down now. A plan that does not require the patrol
    stands down at once. Otherwise the response waits for ``confirm_patrol`` with an
    all-clear (a drill's comes from its scenario): residents go home only when the
    hazard points are safe. Under the town lock, like every change of a response's state.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    if act.status == ActivationStatus.STOOD_DOWN:
        return True
    if not plan.defaults.after_rain_patrol_required:
        stand_down(session=session, activation_id=act.id, reason=reason, now=now)
        return True
    patrol = session.get(Patrol, act.id)
    if patrol is not None and patrol.reason and patrol.all_clear:
        stand_down(session=session, activation_id=act.id, reason=reason, now=now)
        return True
    if patrol is None or not patrol.reason:
        # The gate opens now: a patrol reported before it (during the rain, at another
        # level) does not count; the after-rain checks start from here.
        patrol = patrol or Patrol(id=act.id, activation_id=act.id, reason=reason)
        patrol.reason, patrol.requested_at, patrol.all_clear = reason, now, None
        session.add(patrol)
        if assign_checks:  # a drill's simulated patrol answers at once: no checklists
            _assign_after_rain_checks(session, act, plan, now)
        log_event(
            session,
            activation_id=act.id,
            key="patrol-requested",
            actor="镇应急办",
            action="待雨后巡查确认后结束响应",
            detail=f"{reason}；各隐患点雨后巡查确认安全前，转移群众不得返回",
            at=now,
        )
    return False


def _assign_after_rain_checks(session: Session, act: Activation, plan: Plan, now: datetime) -> None:
    """Every hazard point of the activation's villages gets an after-rain check to report."""
    for village_code in act.village_codes:
        inspect_hazards(
            session=session,
            activation_id=act.id,
            village_code=village_code,
            phase=InspectionPhase.AFTER,
            plan=plan,
            findings={},
            drill=False,
            now=now,
        )


def confirm_patrol(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    answer: PatrolAnswer,
    simulated: bool = False,
    now: datetime | None = None,
) -> bool:
    """Record the after-rain patrol; with an all-clear, a waiting stand-down happens now.

    Returns whether the activation is stood down. Dangers named in the answer keep it
    open and are recorded on the after-rain inspections of those points.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    if act.status == ActivationStatus.STOOD_DOWN:
        return True
    codes = dict(
        session.exec(
            select(HazardPoint.name, HazardPoint.code).where(
                col(HazardPoint.village_code).in_(act.village_codes)
            )
        ).all()
    )
    known = set(codes.values())
    bad = [
        f"dangers[{i}]: {d!r} is not a hazard point of this response"
        for i, d in enumerate(answer.dangers)
        if d not in known and d not in codes
    ]
    if answer.all_clear and answer.dangers:
        bad.append("all_clear: cannot be confirmed while dangers are listed")
    if bad:
        raise AnswerError(bad)
    danger_codes = {codes.get(d, d) for d in answer.dangers}
    patrol = session.get(Patrol, act.id)
    if patrol is None:  # reported before any stand-down was asked for: recorded, not counted
        patrol = Patrol(id=act.id, activation_id=act.id, reason="", requested_at=now)
    patrol.confirmed_at, patrol.confirmed_by = now, answer.name
    patrol.all_clear, patrol.remarks = answer.all_clear, mask_text(answer.remarks)
    patrol.simulated = simulated
    session.add(patrol)
    session.flush()
    for insp in session.exec(
        select(Inspection).where(
            Inspection.activation_id == act.id, Inspection.phase == InspectionPhase.AFTER
        )
    ):
        if insp.hazard_code in danger_codes:
            insp.status, insp.finding = (
                InspectionStatus.DANGER.value,
                patrol.remarks or "雨后巡查仍有险情",
            )
        elif insp.status == InspectionStatus.ASSIGNED:
            insp.status = InspectionStatus.OK.value if answer.all_clear else insp.status
        else:
            continue
        insp.inspected_at, insp.simulated = now, simulated
        session.add(insp)
    log_event(
        session,
        activation_id=act.id,
        key=f"patrol:{now.isoformat()}",
        actor=answer.name,
        action="雨后巡查确认安全" if answer.all_clear else "雨后巡查仍有险情",
        detail=(
            (patrol.remarks or "")
            + (f"；险情点{len(danger_codes)}处" if danger_codes else "")
            + _how(simulated)
        ).strip("；"),
        at=now,
        simulated=simulated,
    )
    if answer.all_clear and patrol.reason:
        stand_down(session=session, activation_id=act.id, reason=patrol.reason, now=now)
        return True
    return False


def patrol_state(session: Session, activation_id: str) -> dict[str, object]:
    patrol = session.get(Patrol, activation_id)
    if patrol is None:
        return {"requested": False, "all_clear": None, "confirmed_by": None}
    return {
        "requested": bool(patrol.reason),
        "all_clear": patrol.all_clear,
        "confirmed_by": patrol.confirmed_by or None,
    }


def _final_report(
    session: Session, activation_id: str, plan: Plan, locale: str, now: datetime
) -> None:
    from sanqing import reporting  # reporting builds on response, as this module does

    reporting.write_report(
        session=session,
        activation_id=activation_id,
        plan=plan,
        kind=ReportKind.FINAL,
        locale=locale,
        now=now,
    )


def record_patrol(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    answer: PatrolAnswer,
    locale: str,
    now: datetime | None = None,
) -> bool:
    """The patrol's answer from the control room or the command line; 终报 when it ends."""
    now = now or clock(session, activation_id)
    done = confirm_patrol(session, activation_id=activation_id, plan=plan, answer=answer, now=now)
    if done:
        _final_report(session, activation_id, plan, locale, now)
    return done


def end_response(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    reason: str,
    locale: str,
    simulated_patrol: PatrolAnswer | None = None,
    now: datetime | None = None,
) -> bool:
    """Ask to stand down (a drill's patrol answers at once); the final report when it ends."""
    now = now or clock(session, activation_id)
    done = request_stand_down(
        session,
        activation_id=activation_id,
        plan=plan,
        reason=reason,
        now=now,
        assign_checks=simulated_patrol is None,
    )
    if not done and simulated_patrol is not None:
        done = confirm_patrol(
            session,
            activation_id=activation_id,
            plan=plan,
            answer=simulated_patrol,
            simulated=True,
            now=now,
        )
    if done:
        _final_report(session, activation_id, plan, locale, now)
    return done
