"""The report schedule and runs nobody can answer (no control room behind them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from flows.flood_response import flood_response
from flows.report_upward import report_upward_all
from sanqing.db import session_scope
from sanqing.models import Approval, Escalation, Relocation, Report, TimelineEvent, utcnow
from sanqing.scenarios import load_scenario

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def test_an_unattended_level_ii_run_proceeds_and_the_schedule_escalates_overdue_moves(
    db_url: str,
) -> None:
    # a real level-II response started in-process: nobody can answer, so the plan's
    # timeout rule (proceed at II) applies at once and no roll call is waited for
    figures = flood_response(town="jifeng", level="II", warning=load_scenario().warning)
    act = figures["activation_id"]
    with session_scope() as s:
        (approval,) = s.exec(select(Approval)).all()
        assert (approval.decision, approval.unattended) == ("timeout_proceeded", True)
        rels = list(s.exec(select(Relocation)))
        assert rels and {r.status for r in rels} == {"ordered"}
    # the schedule within the roll-call time: nothing is overdue, nothing new to report
    first = report_upward_all()
    assert first == [{"activation_id": act, "report": f"{act}:initial:0", "escalated": 0}]
    # an hour and more later nobody has confirmed: every household goes to a first secretary
    with session_scope() as s:
        s.execute(update(Relocation).values(ordered_at=utcnow() - timedelta(minutes=61)))
    second = report_upward_all()
    assert second[0]["escalated"] == len(rels)
    with session_scope() as s:
        assert len(list(s.exec(select(Escalation)))) == len(rels)
        kinds = [r.kind for r in s.exec(select(Report).order_by(col(Report.seq)))]
        assert kinds == ["initial", "follow_up"]  # 续报一 tells the county
        follow = s.exec(select(Report).where(Report.kind == "follow_up")).one()
        assert f"已有{len(rels)}户报驻村第一书记" in follow.text
        assert any(e.action == "未核实转移户上报" for e in s.exec(select(TimelineEvent)))
    # once: the next run escalates nobody and writes nothing
    third = report_upward_all()
    assert third[0]["escalated"] == 0 and third[0]["report"] == second[0]["report"]
