"""The after-rain patrol (雨后巡查) and the end of a response, as a flow for the control room."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.logging import get_run_logger
from pydantic import Field

from flows.artifacts import publish_artifacts, publish_review
from flows.control import PatrolInput, as_answer, ask, can_answer
from flows.params import locale_field, plan_field, town_field
from sanqing.answers import PatrolAnswer, SimulatedAnswers
from sanqing.errors import AnswerError
from sanqing.labels import label
from sanqing.plans import load_plan
from tasks import records
from tasks.command_steps import confirm_patrol, end_response, open_activation


def patrol_question(activation_id: str, reason: str, problems: str = "") -> str:
    """The patrol form's text: refused and unreachable households are not verified safe."""
    act, _ = records.activation_and_outstanding(activation_id)
    f = records.figures(activation_id)
    waiting, refused = f["households_unconfirmed"], f["households_refused"]
    unreachable = f["households_unreachable"]
    return "\n".join(
        [
            "## 雨后巡查确认",
            "",
            f"- 结束原因：{reason}",
            f"- 响应：{label('zh-CN', 'level', act.level)}，{len(act.village_codes)}个村",
            f"- 仍未核实安全的转移户：{waiting + refused + unreachable}户"
            f"（未回报{waiting}户，拒绝转移{refused}户，联系不上{unreachable}户）",
            "",
            "各隐患点雨后巡查无新险情时勾选“巡查确认安全”：响应随即结束（终报），群众可以返回。",
            "仍有险情时列出隐患点：响应继续，群众不返回。",
            *(
                ["", "**上次填报未记录（已保留所填内容），请改正后重报：**", problems]
                if problems
                else []
            ),
        ]
    )


@flow(name="after-rain-patrol", flow_run_name="patrol-{town}")
def after_rain_patrol(
    town: str = town_field(),
    reason: str = Field(
        "雨情结束，申请结束应急响应",
        description="写入处置日志和终报",
        json_schema_extra={"title": "结束原因"},
    ),
    drill: bool = Field(
        False, description="结束演练响应（巡查结果为模拟）", json_schema_extra={"title": "演练"}
    ),
    plan: str = plan_field(),
    locale: str = locale_field(),
) -> dict[str, Any]:
    """雨后巡查，确认安全后结束应急响应。

    When the rain has passed (the warning is lifted or has expired, or the duty
    officer decides), every hazard point gets an after-rain check. The run waits
    here for the patrol leader's answer: all clear ends the response with the
    final report (终报) and residents may go home; dangers named keep it going.
    The rain watch starts this run by itself on an all-clear. A drill's patrol
    answers itself.
    """
    logger = get_run_logger()
    act_id = open_activation(town, drill, plan)
    if act_id is None:
        logger.info("no running response for %s: nothing to end", town)
        return {"town": town, "activation_id": None, "stood_down": False}
    done = end_response(
        act_id,
        reason,
        locale=locale,
        plan_name=plan,
        simulated_patrol=SimulatedAnswers().patrol if drill else None,
    )
    if not done and can_answer():
        done = ask_patrol(act_id, reason, plan=plan, locale=locale)
    if not done and not can_answer():
        logger.warning(
            "the response waits for the after-rain patrol: run after-rain-patrol in the "
            "control room, or `sanqing patrol`"
        )
    if done:  # the 终报 and the review, where the duty officer looks: the run's artifacts
        publish_artifacts(records.figures(act_id), records.report_text(act_id))
        publish_review(act_id, locale)
    state = records.patrol_state(act_id)
    return {"town": town, "activation_id": act_id, "stood_down": done, "patrol": state}


def ask_patrol(activation_id: str, reason: str, *, plan: str, locale: str) -> bool:
    """Wait in the control room for the patrol leader's answer; whether the response ended.

    An answer that cannot be recorded is asked for again; no answer within the plan's
    wait leaves the response open.
    """
    logger = get_run_logger()
    wait_s = int(load_plan(plan).defaults.after_rain_patrol_wait_hours * 3600)
    n, problems = 0, ""
    typed: dict[str, Any] = {}  # a refused answer, shown again in the next form
    while True:
        n += 1
        answer = ask(
            PatrolInput,
            description=patrol_question(activation_id, reason, problems),
            timeout_s=wait_s,
            key=f"patrol-{n}",
            **typed,
        )
        if answer is None:
            logger.warning("no patrol answer: the response stays open")
            return False
        given = as_answer(answer, PatrolAnswer)
        try:
            done = confirm_patrol(activation_id, given, locale=locale, plan_name=plan)
        except AnswerError as exc:
            logger.error("patrol answer not recorded, asking again: %s", exc)
            problems = "\n".join(f"- {p}" for p in exc.problems)
            typed = given.model_dump(mode="json")
            continue
        if not done:
            logger.warning("the patrol found danger: the response goes on")
        return done
