"""The flood response's questions to people: the commander's approval, the villages' roll call.

A drill answers from its scenario; a run nobody can answer (started in-process)
applies the plan's rules at once; a run from a deployment pauses with a form in the
control room (``flows.control.ask``).
"""

from __future__ import annotations

import time

from prefect.logging import get_run_logger

from flows.control import ApprovalInput, as_answer, ask, can_answer
from flows.roll_call_form import as_roll_calls, roll_call_form
from sanqing.answers import ApprovalAnswer, SimulatedAnswers
from sanqing.errors import AnswerError
from sanqing.plans import load_plan
from sanqing.response import read_roll_call_choices
from sanqing.scenarios import load_scenario
from tasks import records
from tasks.command_steps import (
    advance_clock,
    escalate_unconfirmed,
    outstanding,
    record_approval,
    record_follow_up,
    record_roll_call,
    request_approval,
)


def simulated_answers(drill: bool, scenario: str | None) -> SimulatedAnswers | None:
    """A drill answers from its scenario (or the defaults); a real run asks people."""
    if not drill:
        return None
    return load_scenario(scenario).answers if scenario else SimulatedAnswers()


def approve_moves(activation_id: str, plan: str, answers: SimulatedAnswers | None) -> bool:
    """Whether residents may be told to move: asks the commander when the plan says so.

    A drill takes the scenario's answer; a run nobody can answer applies the plan's
    timeout rule at once; otherwise the run pauses with the approval form.
    """
    request = request_approval(activation_id, plan_name=plan)
    if request is None:
        return True
    if answers is not None:
        return record_approval(
            request.approval_id, answers.approval, request.on_timeout, simulated=True
        ).moves
    if not can_answer():
        return record_approval(request.approval_id, None, request.on_timeout, unattended=True).moves
    get_run_logger().warning("waiting for the commander's approval: %s", request.reason)
    answer = ask(
        ApprovalInput,
        description=request.question,
        timeout_s=request.timeout_s,
        key=f"approval-{request.approval_id}",
    )
    given = as_answer(answer, ApprovalAnswer) if answer is not None else None
    return record_approval(request.approval_id, given, request.on_timeout).moves


def take_roll_call(
    activation_id: str, *, plan: str, locale: str, answers: SimulatedAnswers | None
) -> bool:
    """Wait for the villages' roll calls, then escalate who is still unconfirmed.

    Returns whether anything changed (a roll call recorded, households escalated):
    then a follow-up report is due. Without a control room nobody is waited for:
    the report-upward schedule escalates households left overdue.
    """
    if answers is None and not can_answer():
        return False  # asked first: a county's towns skip a task that could change nothing
    if not outstanding(activation_id):
        return False
    if answers is not None:
        simulate_roll_call(activation_id, plan=plan, locale=locale, answers=answers)
        return True
    recorded = ask_roll_calls(activation_id, plan=plan)
    escalated = escalate_unconfirmed(
        activation_id, locale=locale, plan_name=plan, overdue_only=False
    )
    return recorded or escalated.households > 0


def simulate_roll_call(
    activation_id: str, *, plan: str, locale: str, answers: SimulatedAnswers
) -> None:
    """A drill's roll call on its clock: the scenario's answers, then each follow-up round."""
    advance_clock(activation_id, answers.minutes.roll_call)
    record_roll_call(activation_id, answers.roll_calls, simulated=True)
    escalate_unconfirmed(activation_id, locale=locale, plan_name=plan, overdue_only=False)
    # 应撤必撤: each step up the chain reports back, and whoever is still out goes on up
    for n, round_ in enumerate(answers.follow_ups, start=1):
        advance_clock(activation_id, answers.minutes.follow_up)
        record_follow_up(activation_id, round_, n)
        escalate_unconfirmed(activation_id, locale=locale, plan_name=plan, overdue_only=False)


def ask_roll_calls(activation_id: str, *, plan: str) -> bool:
    """Ask the control room for the roll calls until every village answered or time is up.

    The plan's level gives the time; the form offers the villages still to report and
    their households from the registry. An answer that cannot be recorded is asked
    again with what was wrong, in Chinese, and what was typed already filled in.
    Returns whether any roll call was recorded.
    """
    logger = get_run_logger()
    rule = load_plan(plan).level(records.level_of(activation_id)).roll_call
    deadline = time.monotonic() + rule.within_minutes * 60
    recorded, n, problems, typed = False, 0, "", None
    while left := outstanding(activation_id):
        remaining = int(deadline - time.monotonic())
        if remaining <= 0:
            break
        n += 1
        answer = ask(
            roll_call_form(*read_roll_call_choices(activation_id, sorted(left)), typed),
            description=roll_call_question(left, remaining, problems),
            timeout_s=remaining,
            key=f"roll-call-{n}",
        )
        if answer is None:
            break
        given = as_roll_calls(answer)
        try:
            record_roll_call(activation_id, given)
            recorded, problems, typed = True, "", None
        except AnswerError as exc:  # positions only: no typed name reaches the log
            problems = "\n".join(f"- {p}" for p in exc.problems)
            typed = [v.model_dump(mode="json") for v in given]
            logger.error("roll call not recorded (%d problems), asking again", len(exc.problems))
    return recorded


def roll_call_question(left: dict[str, int], remaining_s: int, problems: str = "") -> str:
    names = records.village_names(list(left))
    lines = [f"- {names.get(code, code)}：{n}户未回报" for code, n in sorted(left.items())]
    return "\n".join(
        [
            "## 各村点名回报",
            "",
            *lines,
            "",
            f"{remaining_s // 60} 分钟后仍未核实的户将报驻村第一书记入户核实。",
            "每个村填一项：从列表中选择村，列出拒绝、联系不上等例外户，其余各户统一填报。",
            *(
                ["", "**上次回报未记录（已保留所填内容），请改正后重报：**", problems]
                if problems
                else []
            ),
        ]
    )
