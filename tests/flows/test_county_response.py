"""The county flow under Prefect's test harness: every town as a child run, failures per town."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
)
from sqlalchemy import func
from sqlmodel import select

from bench.samplegen import generate_county
from flows.county_response import county_response
from sanqing.db import session_scope
from sanqing.models import Activation, Inspection, Relocation
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


def test_a_county_runs_each_town_step_as_one_task_not_one_per_village(
    db_url: str, tmp_path: Path
) -> None:
    # A town alone fans its villages out (one task each, up to six); in a county the
    # towns are the parallelism and every town step is one task: fewer task runs for
    # the Prefect server to record (~13 a town instead of ~34 in the benchmark county).
    towns = load_small_county(tmp_path)  # two villages a town
    state = county_response(towns=towns[:2], level="I", return_state=True)
    assert state.result()["failed"] == []
    with session_scope() as s:
        phases = dict(
            s.exec(
                select(Activation.town_code, func.count(func.distinct(Inspection.phase)))
                .join(Inspection, Inspection.activation_id == Activation.id)
                .group_by(Activation.town_code)
            ).all()
        )
    assert set(phases) == set(towns[:2]) and all(n >= 1 for n in phases.values())
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(
                    any_=[state.state_details.flow_run_id]
                )
            )
        )
        assert len(children) == 2
        for child in children:
            names = task_run_names(client, child.id)
            inspections = [n for n in names if n.startswith("inspect-")]
            # one task per inspection phase, not one per village and phase
            assert len(inspections) == phases[child.parameters["town"]], names
            # nobody can answer an in-process county: no roll call to wait for, no task
            # run to look for one
            assert not [n for n in names if n.startswith("outstanding-roll-call")], names


def task_run_names(client: Any, flow_run_id: Any) -> list[str]:
    """The flow run's task runs by name, once the server has recorded them all (from events)."""
    names: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
        now = sorted(r.name for r in runs)
        if now and now == names:
            return names
        names = now
        time.sleep(1)
    return names
