"""Whether a run has someone to answer it, decided from the run's own record where it can.

A county runs twenty towns at once in one process; each town asks three times
(approval, roll call, print folder). Asking Prefect costs an API read and a new
client each time, so a town asks at most once and a top-level run never.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prefect import flow

from flows import control

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every question to Prefect's runtime that goes to the server."""
    calls: list[str] = []
    real_id, real_parent = control.deployment.get_id, control.flow_run.get_parent_deployment_id

    def get_id() -> Any:
        calls.append("deployment.get_id")
        return real_id()

    def get_parent_deployment_id() -> Any:
        calls.append("flow_run.get_parent_deployment_id")
        return real_parent()

    monkeypatch.setattr(control.deployment, "get_id", get_id)
    monkeypatch.setattr(control.flow_run, "get_parent_deployment_id", get_parent_deployment_id)
    yield calls


@flow
def town_like() -> list[bool]:
    return [control.can_answer() for _ in range(3)]


@flow
def county_like() -> list[bool]:
    return town_like()


def test_a_run_started_in_process_cannot_be_answered_and_prefect_is_not_asked(
    asked: list[str],
) -> None:
    assert town_like() == [False, False, False]
    assert asked == []


def test_a_subflow_asks_prefect_once_however_often_it_wants_to_know(asked: list[str]) -> None:
    assert county_like() == [False, False, False]
    assert asked == ["deployment.get_id", "flow_run.get_parent_deployment_id"]


def test_each_subflow_asks_for_itself(asked: list[str]) -> None:
    county_like()
    county_like()
    assert len(asked) == 4  # a new run is a new question: no answer carried over


def test_nobody_answers_a_town_of_an_unattended_county(asked: list[str]) -> None:
    token = control.UNATTENDED.set(True)
    try:
        assert county_like() == [False, False, False]
    finally:
        control.UNATTENDED.reset(token)
    assert asked == []


def test_a_deployment_run_can_be_answered_without_asking(
    asked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from uuid import uuid4

    from prefect.context import FlowRunContext

    @flow
    def deployed() -> bool:
        ctx = FlowRunContext.get()
        assert ctx is not None and ctx.flow_run is not None
        # What a run started from a deployment carries in its own record.
        monkeypatch.setattr(ctx.flow_run, "deployment_id", uuid4())
        return control.can_answer()

    assert deployed() is True
    assert asked == []
