"""Tasks around the people in the loop: approval, roll call, escalation, patrol, stand-down.

Thin, like ``plan_steps``: a session, one domain call, a small result. Bad input
(``AnswerError``) is not retried; the flow shows it and asks again.
"""

from __future__ import annotations

from sqlmodel import col, select

from sanqing import response
from sanqing.answers import ApprovalAnswer, PatrolAnswer, VillageRollCall
from sanqing.db import session_scope
from sanqing.models import Activation, ActivationStatus, ApprovalDecision
from sanqing.plans import OnTimeout, load_plan
from sanqing.registry import ensure_registry
from tasks import run_log
from tasks.options import db_task


@db_task("request-approval")
def request_approval(
    activation_id: str, plan_name: str = "flood"
) -> response.ApprovalRequest | None:
    """The commander's approval this activation still needs, if any."""
    with session_scope() as session:
        request = response.request_approval(
            session, activation_id=activation_id, plan=load_plan(plan_name)
        )
    run_log.approval_asked(request)
    return request


@db_task("approval-needed")
def approval_needed(activation_id: str, plan_name: str = "flood") -> bool:
    """Whether the planned moves still wait for the commander."""
    with session_scope() as session:
        act = response.hold_open(session, activation_id)
        return act is not None and response.approval_needed(
            session, act=act, plan=load_plan(plan_name)
        )


@db_task("inform-commander")
def inform_commander(activation_id: str, locale: str = "zh-CN") -> int:
    """Tell the commander who moved at once, before the approval (三个紧急撤离)."""
    with session_scope() as session:
        sent = response.inform_commander(session, activation_id=activation_id, locale=locale)
    run_log.say("已向指挥长报告紧急撤离：%d户", sent)
    return sent


@db_task("advance-drill-clock")
def advance_clock(activation_id: str, minutes: float) -> None:
    """A drill's script lets ``minutes`` pass (on its own clock: nothing waits)."""
    with session_scope() as session:
        response.advance_clock(session, activation_id, minutes)


@db_task("record-approval")
def record_approval(
    approval_id: str,
    answer: ApprovalAnswer | None,
    on_timeout: OnTimeout,
    simulated: bool = False,
    unattended: bool = False,
) -> ApprovalDecision:
    """The answer, or the plan's rule when none came, into the approval and the timeline."""
    with session_scope() as session:
        decision = response.decide_approval(
            session,
            approval_id=approval_id,
            answer=answer,
            on_timeout=on_timeout,
            simulated=simulated,
            unattended=unattended,
        )
    run_log.approval_answered(decision)
    return decision


@db_task("record-roll-call")
def record_roll_call(
    activation_id: str, roll_calls: list[VillageRollCall], simulated: bool = False
) -> response.RollCallResult:
    """The villages' roll calls onto the relocations (all or nothing)."""
    with session_scope() as session:
        if simulated:
            result = response.simulate_roll_call(
                session, activation_id=activation_id, listed=roll_calls
            )
        else:
            result = response.record_roll_call(
                session, activation_id=activation_id, roll_calls=roll_calls
            )
    run_log.roll_call(result)
    return result


@db_task("record-follow-up")
def record_follow_up(
    activation_id: str, roll_calls: list[VillageRollCall], round_: int
) -> response.RollCallResult:
    """A drill's report back from a step up the chain (应撤必撤): the named households only."""
    with session_scope() as session:
        result = response.simulate_follow_up(
            session, activation_id=activation_id, listed=roll_calls, round_=round_
        )
    run_log.roll_call(result)
    return result


@db_task("outstanding-roll-call")
def outstanding(activation_id: str) -> dict[str, int]:
    with session_scope() as session:
        left = response.outstanding(session, activation_id)
    run_log.waiting_for_roll_call(left)
    return left


@db_task("escalate-unconfirmed")
def escalate_unconfirmed(
    activation_id: str, locale: str = "zh-CN", plan_name: str = "flood", overdue_only: bool = True
) -> response.EscalationResult:
    """Households nobody confirmed go to the village's first secretary."""
    with session_scope() as session:
        result = response.escalate_unconfirmed(
            session,
            activation_id=activation_id,
            plan=load_plan(plan_name),
            locale=locale,
            overdue_only=overdue_only,
        )
    if result.households or not overdue_only:  # the schedule's passes say only what they did
        run_log.escalated(result)
    return result


@db_task("end-response")
def end_response(
    activation_id: str,
    reason: str,
    locale: str = "zh-CN",
    plan_name: str = "flood",
    simulated_patrol: PatrolAnswer | None = None,
) -> bool:
    """Stand down now if the patrol allows (and write the final report), else open the gate."""
    with session_scope() as session:
        done = response.end_response(
            session,
            activation_id=activation_id,
            plan=load_plan(plan_name),
            reason=reason,
            locale=locale,
            simulated_patrol=simulated_patrol,
        )
    run_log.stand_down(done, patrol="雨后巡查（演练模拟）" if simulated_patrol else "申请结束响应")
    return done


@db_task("confirm-patrol")
def confirm_patrol(
    activation_id: str,
    answer: PatrolAnswer,
    locale: str = "zh-CN",
    plan_name: str = "flood",
) -> bool:
    """The after-rain patrol's answer; an all-clear ends a waiting response (终报)."""
    with session_scope() as session:
        done = response.record_patrol(
            session,
            activation_id=activation_id,
            plan=load_plan(plan_name),
            answer=answer,
            locale=locale,
        )
    run_log.stand_down(done, patrol="雨后巡查回报")
    return done


@db_task("running-responses")
def running_responses(plan: str) -> list[str]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Activation.id)
                .where(Activation.status == ActivationStatus.ACTIVE, Activation.plan == plan)
                .order_by(col(Activation.activated_at))
            )
        )


@db_task("open-activation")
def open_activation(town: str, drill: bool, plan_name: str) -> str | None:
    town_code = ensure_registry(town)
    with session_scope() as session:
        act = response.open_activation(
            session, town_code=town_code, plan=load_plan(plan_name).plan, drill=drill
        )
        return act.id if act else None
