"""A run whose machine died is marked crashed when its heartbeats stop, and only such a run.

A real ``prefect server start`` (its triggers service evaluates the automation every
few seconds), the automation with Prefect's least window (10 s; a county's is minutes).
Five runs send a heartbeat: one then goes silent (its machine died), one completes,
two end in the town runs' own state names, one keeps sending heartbeats as a run
paused for the commander's approval does. Only the silent one is marked Crashed; the
county run's wait for its batches then ends with that state instead of waiting for ever.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Completed, Running

from flows import county_pool, lost_runs
from flows.artifacts import RESPONSE_ENDED, ROUND_DONE
from sanqing.prefect_server import LocalPrefectServer

pytestmark = pytest.mark.integration

WITHIN_S = 10  # Prefect's least window for a proactive trigger


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalPrefectServer]:
    srv = LocalPrefectServer(tmp_path / "server", ui=False)
    srv.start()
    try:
        with temporary_settings(updates={PREFECT_API_URL: srv.api_url}):
            yield srv
    finally:
        srv.stop()


@flow
def a_batch() -> None:
    pass


def running_run() -> UUID:
    with get_client(sync_client=True) as client:
        return client.create_flow_run(a_batch, state=Running()).id


def heartbeat(run_id: UUID) -> None:
    """What a running flow's engine sends (``prefect.flow-run.heartbeat``), sent at once."""
    event = {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": lost_runs.HEARTBEAT,
        "resource": {"prefect.resource.id": f"prefect.flow-run.{run_id}"},
        "related": [],
    }
    with get_client(sync_client=True) as client:
        client.request("POST", "/events", json=[event]).raise_for_status()


def state_of(run_id: UUID) -> Any:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    assert state is not None
    return state


def acted_on() -> set[str]:
    """The flow runs the automation acted on (or tried to: a final run refuses it)."""
    query = {"filter": {"event": {"prefix": ["prefect.automation.action.triggered"]}}}
    with get_client(sync_client=True) as client:
        events = client.request("POST", "/events/filter", json=query | {"limit": 50}).json()
    return {
        r["prefect.resource.id"].removeprefix("prefect.flow-run.")
        for e in events["events"]
        for r in e["related"]
        if r["prefect.resource.id"].startswith("prefect.flow-run.")
    }


@pytest.mark.usefixtures("server")
def test_only_the_run_that_went_silent_is_crashed_and_the_county_stops_waiting() -> None:
    automation_id = lost_runs.put_automation(lost_runs.lost_run_automation(WITHIN_S))
    assert lost_runs.put_automation(lost_runs.lost_run_automation(WITHIN_S)) == automation_id
    with get_client(sync_client=True) as client:
        [automation] = client.read_automations_by_name(lost_runs.NAME)
    assert automation.trigger.within.total_seconds() == WITHIN_S  # type: ignore[union-attr]

    silent, alive = running_run(), running_run()
    # a run that completed, and town runs that ended in sanqing's own state names
    finals = {
        running_run(): Completed(name=name) for name in ("Completed", ROUND_DONE, RESPONSE_ENDED)
    }
    for run in (silent, alive, *finals):
        heartbeat(run)
    with get_client(sync_client=True) as client:
        for run, state in finals.items():
            client.set_flow_run_state(run, state, force=True)

    deadline = time.monotonic() + WITHIN_S + 60
    while time.monotonic() < deadline and not state_of(silent).is_crashed():
        heartbeat(alive)  # well inside the window, as a run paused for an answer does
        time.sleep(2)
    for _ in range(4):  # one more evaluation of the triggers, heartbeats going on
        heartbeat(alive)
        time.sleep(2)

    crashed = state_of(silent)
    assert crashed.is_crashed(), crashed
    assert "心跳" in (crashed.message or "")
    assert state_of(alive).is_running(), state_of(alive)
    assert all(state_of(run).is_completed() for run in finals)
    assert acted_on() == {str(silent)}
    done = next(iter(finals))
    started = time.monotonic()
    assert county_pool.wait_for([silent, done]) == {silent: "CRASHED", done: "COMPLETED"}
    assert time.monotonic() - started < 5

    # the command a county runs once: the same automation, its window changed
    lost_runs.main(["--within", "600"])
    with get_client(sync_client=True) as client:
        [again] = client.read_automations_by_name(lost_runs.NAME)
    assert again.id == automation.id
    assert again.trigger.within.total_seconds() == 600  # type: ignore[union-attr]


def test_a_window_shorter_than_two_heartbeats_is_refused() -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        with pytest.raises(ValueError, match="shorter than two heartbeats"):
            lost_runs.ensure_lost_run_detection(119)  # before any server is asked
        assert lost_runs.default_within_s() == 540  # never under three of Prefect's default
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 300}):
        assert lost_runs.default_within_s() == 900


def test_the_command_refuses_a_short_window_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        lost_runs.main(["--within", "5"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "shorter than two heartbeats" in err and "Traceback" not in err
