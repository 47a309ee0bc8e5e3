"""The county flow under Prefect's test harness: every town as a child run, failures per town."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from sqlalchemy import func
from sqlmodel import select

from bench.samplegen import generate_county
from flows.county_response import county_response
from sanqing.db import session_scope
from sanqing.models import Activation, Relocation
from sanqing.registry import load_town_dir

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def load_small_county(tmp_path: Path) -> list[str]:
    dirs = generate_county(
        tmp_path / "towns",
        towns=3,
        villages_per_town=2,
        households_per_village=20,
        hazard_points_per_town=8,
    )
    codes = []
    for d in dirs:
        with session_scope() as s:
            report = load_town_dir(s, d)
            report.raise_for_problems()
            codes.append(report.town_code)
    return codes


def test_every_town_responds_as_a_child_run_and_one_failure_stops_no_other(
    db_url: str, tmp_path: Path
) -> None:
    towns = load_small_county(tmp_path)
    state = county_response(towns=[*towns, "no-such-town"], level="I", return_state=True)
    result = state.result()

    assert result["failed"] == ["no-such-town"]
    assert "no-such-town" in result["towns"]["no-such-town"]["error"]
    with session_scope() as s:
        activated = set(s.exec(select(Activation.town_code)))
        moves = dict(
            s.exec(
                select(Activation.town_code, func.count())
                .join(Relocation, Relocation.activation_id == Activation.id)
                .group_by(Activation.town_code)
            ).all()
        )
    assert activated == set(towns)
    for town in towns:
        figures = result["towns"][town]["figures"]
        assert result["towns"][town]["ok"] and figures["town_code"] == town
        assert figures["households_to_relocate"] == moves[town] > 0
    assert result["households_to_relocate"] == sum(moves.values())

    parent_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
            )
        )
        assert len(children) == len(towns) + 1
        assert sorted(c.state.type.value for c in children) == ["COMPLETED"] * 3 + ["FAILED"]
        for child in children:
            assert child.parent_task_run_id is not None
            link = client.read_task_run(child.parent_task_run_id)
            assert link.flow_run_id == parent_id
