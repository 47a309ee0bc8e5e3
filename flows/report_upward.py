"""The report schedule: follow-up reports and overdue roll calls of every running response."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.params import locale_field, plan_field
from tasks import epidemic_steps
from tasks.command_steps import escalate_unconfirmed, running_responses
from tasks.plan_steps import daily_report, report_upward


@flow(name="report-upward", flow_run_name="report-upward")
def report_upward_all(
    plan: str = plan_field(), locale: str = locale_field()
) -> list[dict[str, Any]]:
    """定时续报：每个正在进行的应急响应，数字有变化就向县里续报，超时未核实的转移户报第一书记。

    Runs on a schedule while the control room is open. For every running
    response: households ordered to move and still not confirmed after the
    level's roll-call time go to their village's first secretary; the report
    upward gets a numbered follow-up (续报) when the figures changed since the
    last one, and once the day's report time has come, the daily report (日报; a
    zero report when nothing changed). Every running epidemic response gets its daily
    report (疫情防控工作日报) from an hour before it is due. Running it with nothing new
    writes nothing.
    """
    out = []
    for act_id in running_responses(plan):
        escalated = escalate_unconfirmed(act_id, locale=locale, plan_name=plan, overdue_only=True)
        report_id = report_upward(act_id, locale=locale, plan_name=plan)
        report_id = daily_report(act_id, locale=locale, plan_name=plan) or report_id
        out.append(
            {"activation_id": act_id, "report": report_id, "escalated": escalated.households}
        )
    for act_id in running_responses("epidemic"):  # its 疫情防控工作日报 once due
        out.append(
            {
                "activation_id": act_id,
                "report": epidemic_steps.report_due(act_id, locale),
                "escalated": 0,
            }
        )
    return out
