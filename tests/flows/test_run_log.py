"""The run log the duty officer reads in the UI: a Chinese line per step with its figures.

Read back from the Prefect API as the control room sees it; the figures are checked
against the database, and no line names a resident or holds a phone or ID number.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from flows.after_rain_patrol import after_rain_patrol
from sanqing.db import session_scope
from sanqing.models import (
    DutyShift,
    Household,
    Inspection,
    Notice,
    Relocation,
    Report,
    RoadIncident,
)
from sanqing.privacy import contains_personal_data
from sanqing.scenarios import load_scenario
from tests.flows.test_flood_response import run_scenario

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def run_log(flow_run_id: UUID) -> list[Any]:
    """The run's log rows (its tasks' too), oldest first, as the UI shows them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # logs go to the API in batches: send them first
    with get_client(sync_client=True) as client:
        return client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC,
        )


def lines(logs: list[Any], start: str) -> list[str]:
    """The INFO lines that begin with ``start`` (a step's own words)."""
    return [r.message for r in logs if r.message.startswith(start) and r.level == logging.INFO]


def total(found: list[str], pattern: str) -> int:
    """The sum of ``pattern``'s number over the lines (a step logs once per village group)."""
    return sum(int(m.group(1)) for line in found if (m := re.search(pattern, line)))


def drill() -> tuple[dict[str, Any], list[Any]]:
    """The sample drill (level Ⅱ, danger found, a road blocked, a roll call): figures, log."""
    state = run_scenario(return_state=True)
    return state.result(), run_log(state.state_details.flow_run_id)


def test_every_step_logs_its_figures_in_chinese_at_info(db_url: str) -> None:
    figures, logs = drill()
    messages = [r.message for r in logs]
    with session_scope() as s:
        on_duty = s.exec(select(func.count(func.distinct(DutyShift.cadre_code)))).one()
        rels = list(s.exec(select(Relocation)))
        inspections = list(s.exec(select(Inspection)))
        notices = s.exec(
            select(func.count())
            .select_from(Notice)  # the commander's SMS and the reports have lines of their own
            .where(Notice.purpose != "urgent_moves", Notice.channel != "county")
        ).one()
        roads = list(s.exec(select(RoadIncident)))
        titles = list(s.exec(select(Report.title).order_by(col(Report.seq))))
    # 启动
    assert lines(logs, "启动防汛Ⅱ级应急响应") == [
        f"启动防汛Ⅱ级应急响应：{figures['villages']}个村，值班{on_duty}人"
    ]
    # 隐患排查, before the rain and in it: every inspection, every danger found
    inspected = lines(logs, "雨前排查隐患点") + lines(logs, "雨中排查隐患点")
    assert len(inspected) == 2 * figures["villages"]  # a line per village and patrol
    assert total(inspected, r"已排查(\d+)处") == len(inspections)
    assert total(inspected, r"发现险情(\d+)处") == figures["hazard_points_dangerous"] == 3
    # 人员转移: some at once (三个紧急撤离) before the approval, then the ordered moves:
    # each village's last order gives the households and people the report gives
    urgent = lines(logs, "紧急撤离（不等审批）")
    assert urgent and total(urgent, r"转移(\d+)户") < len(rels)
    last = {re.sub("：.*", "", line): line for line in lines(logs, "下达转移指令")}
    assert len(last) == figures["villages"]
    orders = list(last.values())
    assert total(orders, r"转移(\d+)户") == len(rels) == figures["households_to_relocate"]
    assert total(orders, r"户(\d+)人") == sum(r.people for r in rels)
    # 审批: asked, then answered; the answer comes after the question
    asked = messages.index(lines(logs, "请示指挥长批准转移")[0])
    assert messages.index("指挥长已批准转移") > asked
    # 安置: the last placement's shortfall is the report's
    sheltered = lines(logs, "安置：")
    assert sheltered[-1].endswith(f"{figures['shelter_shortfall_people']}人")
    # 通知: every notice the village steps wrote, and the escalations'
    told = lines(logs, "生成通知")
    escalations = lines(logs, "未核实户逐级上报")
    assert total(told, r"(\d+)条") + total(escalations, r"(\d+)条") == notices
    # 道路抢通
    assert [(r.status, r.machine_code is not None) for r in roads] == [("reopened", True)]
    assert lines(logs, "道路抢通") == [
        "道路抢通：中断1处，其中正在抢通0处，已恢复通行1处，等待机械0处"
    ]
    # 向上报告: the initial report and the follow-up after the roll call, by their titles
    assert lines(logs, "向县里报送") == [f"向县里报送{t}" for t in titles]
    assert "（首报）" in titles[0] and "（续报一）" in titles[1]
    # 点名: asked for, answered
    assert lines(logs, "等待点名回报")
    assert lines(logs, "点名回报")


def test_no_line_names_a_resident_or_holds_a_phone_or_id(db_url: str) -> None:
    _, logs = drill()
    with session_scope() as s:
        heads = {h.head_name for h in s.exec(select(Household)) if len(h.head_name) >= 2}
        codes = set(s.exec(select(Household.code)))
    assert len(logs) > 20
    for r in logs:
        assert not contains_personal_data(r.message), r.message
        assert not any(name in r.message for name in heads), r.message
        assert not any(code in r.message for code in codes), r.message


def test_the_stand_down_says_the_response_ended_with_the_final_report(db_url: str) -> None:
    drill()
    state = after_rain_patrol(town=load_scenario().town, drill=True, return_state=True)
    assert state.result()["stood_down"]
    logs = run_log(state.state_details.flow_run_id)
    assert lines(logs, "雨后巡查（演练模拟）：结束应急响应，已报送终报")
