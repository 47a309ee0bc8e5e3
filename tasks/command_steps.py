"""Tasks around the people in the loop: approval, roll call, escalation, patrol, stand-down.

Thin, like ``plan_steps``: a session, one domain call, a small result. Bad input
(``AnswerError``) is not retried; the flow shows it and asks again.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from sanqing import command, response
from sanqing.answers import ApprovalAnswer, PatrolAnswer, VillageRollCall
from sanqing.db import session_scope
from sanqing.models import ApprovalDecision
from sanqing.plans import OnTimeout, load_plan
from tasks.plan_steps import DB_RETRIES, DB_RETRY_DELAYS, not_bad_input

RETRY = dict(
    cache_policy=NO_CACHE,
    retries=DB_RETRIES,
    retry_delay_seconds=DB_RETRY_DELAYS,
    retry_condition_fn=not_bad_input,
)


@task(name="request-approval", **RETRY)  # type: ignore[call-overload]
def request_approval(
    activation_id: str, plan_name: str = "flood"
) -> command.ApprovalRequest | None:
    """The commander's approval this activation still needs, if any."""
    with session_scope() as session:
        return command.request_approval(
            session, activation_id=activation_id, plan=load_plan(plan_name)
        )


@task(name="approval-needed", **RETRY)  # type: ignore[call-overload]
def approval_needed(activation_id: str, plan_name: str = "flood") -> bool:
    """Whether the planned moves still wait for the commander."""
    with session_scope() as session:
        act = response.hold_open(session, activation_id)
        return act is not None and command.approval_needed(
            session, act=act, plan=load_plan(plan_name)
        )


@task(name="inform-commander", **RETRY)  # type: ignore[call-overload]
def inform_commander(activation_id: str, locale: str = "zh-CN") -> int:
    """Tell the commander who moved at once, before the approval (三个紧急撤离)."""
    with session_scope() as session:
        return command.inform_commander(session, activation_id=activation_id, locale=locale)


@task(name="advance-drill-clock", **RETRY)  # type: ignore[call-overload]
def advance_clock(activation_id: str, minutes: float) -> None:
    """A drill's script lets ``minutes`` pass (on its own clock: nothing waits)."""
    with session_scope() as session:
        response.advance_clock(session, activation_id, minutes)


@task(name="record-approval", **RETRY)  # type: ignore[call-overload]
def record_approval(
    approval_id: str,
    answer: ApprovalAnswer | None,
    on_timeout: OnTimeout,
    simulated: bool = False,
    unattended: bool = False,
) -> ApprovalDecision:
    """The answer, or the plan's rule when none came, into the approval and the timeline."""
    with session_scope() as session:
        return command.decide_approval(
            session,
            approval_id=approval_id,
            answer=answer,
            on_timeout=on_timeout,
            simulated=simulated,
            unattended=unattended,
        )


@task(name="record-roll-call", **RETRY)  # type: ignore[call-overload]
def record_roll_call(
    activation_id: str, roll_calls: list[VillageRollCall], simulated: bool = False
) -> command.RollCallResult:
    """The villages' roll calls onto the relocations (all or nothing)."""
    if not simulated:
        with session_scope() as session:
            return command.record_roll_call(
                session, activation_id=activation_id, roll_calls=roll_calls
            )
    with session_scope() as session:
        return command.simulate_roll_call(session, activation_id=activation_id, listed=roll_calls)


@task(name="record-follow-up", **RETRY)  # type: ignore[call-overload]
def record_follow_up(
    activation_id: str, roll_calls: list[VillageRollCall], round_: int
) -> command.RollCallResult:
    """A drill's report back from a step up the chain (应撤必撤): the named households only."""
    with session_scope() as session:
        return command.simulate_follow_up(
            session, activation_id=activation_id, listed=roll_calls, round_=round_
        )


@task(name="outstanding-roll-call", **RETRY)  # type: ignore[call-overload]
def outstanding(activation_id: str) -> dict[str, int]:
    with session_scope() as session:
        return command.outstanding(session, activation_id)


@task(name="escalate-unconfirmed", **RETRY)  # type: ignore[call-overload]
def escalate_unconfirmed(
    activation_id: str, locale: str = "zh-CN", plan_name: str = "flood", overdue_only: bool = True
) -> command.EscalationResult:
    """Households nobody confirmed go to the village's first secretary."""
    with session_scope() as session:
        return command.escalate_unconfirmed(
            session,
            activation_id=activation_id,
            plan=load_plan(plan_name),
            locale=locale,
            overdue_only=overdue_only,
        )


@task(name="end-response", **RETRY)  # type: ignore[call-overload]
def end_response(
    activation_id: str,
    reason: str,
    locale: str = "zh-CN",
    plan_name: str = "flood",
    simulated_patrol: PatrolAnswer | None = None,
) -> bool:
    """Stand down now if the patrol allows (and write the final report), else open the gate."""
    with session_scope() as session:
        return command.end_response(
            session,
            activation_id=activation_id,
            plan=load_plan(plan_name),
            reason=reason,
            locale=locale,
            simulated_patrol=simulated_patrol,
        )


@task(name="confirm-patrol", **RETRY)  # type: ignore[call-overload]
def confirm_patrol(
    activation_id: str,
    answer: PatrolAnswer,
    locale: str = "zh-CN",
    plan_name: str = "flood",
) -> bool:
    """The after-rain patrol's answer; an all-clear ends a waiting response (终报)."""
    with session_scope() as session:
        return command.record_patrol(
            session,
            activation_id=activation_id,
            plan=load_plan(plan_name),
            answer=answer,
            locale=locale,
        )
