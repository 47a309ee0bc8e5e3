"""The county run waits for its batch runs: every one final, each with its own state."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Completed, Crashed, Running

from flows import county_pool

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


@flow
def a_batch() -> None:
    pass


def new_runs(n: int) -> list[UUID]:
    with get_client(sync_client=True) as client:
        runs = [client.create_flow_run(a_batch, state=Running()) for _ in range(n)]
    return [r.id for r in runs]


def set_state(run_id: UUID, state: Any) -> None:
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, state, force=True)


def test_it_returns_only_when_the_last_run_is_final_with_each_runs_state() -> None:
    first, second, third = new_runs(3)
    set_state(first, Completed())
    set_state(second, Crashed())
    result: dict[str, Any] = {}

    waiter = threading.Thread(
        target=lambda: result.update(states=county_pool.wait_for([first, second, third]))
    )
    waiter.start()
    time.sleep(1.5)  # several polls while the third still runs
    assert waiter.is_alive() and not result
    set_state(third, Completed())
    waiter.join(timeout=10)

    assert not waiter.is_alive()
    assert result["states"] == {first: "COMPLETED", second: "CRASHED", third: "COMPLETED"}


def test_a_run_the_server_no_longer_has_is_not_waited_for() -> None:
    # a batch run deleted in the UI while the county waited: its towns are named failed
    (done,) = new_runs(1)
    set_state(done, Completed())
    gone = uuid.uuid4()
    started = time.monotonic()
    assert county_pool.wait_for([done, gone]) == {done: "COMPLETED", gone: county_pool.MISSING}
    assert time.monotonic() - started < 5
