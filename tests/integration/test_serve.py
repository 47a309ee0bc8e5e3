"""The control room for real: `sanqing serve` against a `prefect server start` on 127.0.0.1.

Starts a Prefect server (temporary home), runs `sanqing serve` in a child process,
starts the `drill` and `flood-response` deployments through the API and sees them
complete with the expected database state; then stops serve before the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from sanqing.db import session_scope
from sanqing.models import Activation, Relocation
from sanqing.prefect_server import LocalPrefectServer
from sanqing.settings import REPO_ROOT

pytestmark = pytest.mark.integration

DEPLOYMENTS = ("flood-response/flood-response", "drill/drill", "rain-watch/rain-watch")


@pytest.fixture
def control_room(db_url: str, tmp_path: Path) -> Iterator[str]:
    server = LocalPrefectServer(tmp_path / "prefect-server", ui=False)
    server.start()
    env = os.environ | {
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(tmp_path / "serve-home"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [sys.executable, "-m", "sanqing.cli", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield server.api_url
    finally:
        # serve first (it would hang on a stopped server), SIGINT twice as Prefect expects
        for _ in range(2):
            if serve.poll() is None:
                serve.send_signal(signal.SIGINT)
                time.sleep(1)
        try:
            serve.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        log.close()
        server.stop()


def test_deployments_served_and_runs_complete(control_room: str, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: control_room}):
        deadline = time.monotonic() + 90
        with get_client(sync_client=True) as client:
            while True:
                try:
                    for name in DEPLOYMENTS:
                        client.read_deployment_by_name(name)
                    break
                except ObjectNotFound:
                    if time.monotonic() > deadline:
                        pytest.fail(
                            "deployments not served in 90 s: "
                            + (tmp_path / "serve.log").read_text()
                        )
                    time.sleep(1)
            watch = client.read_deployment_by_name("rain-watch/rain-watch")
            assert watch.schedules and watch.schedules[0].schedule.interval.total_seconds() == 300

        drill = run_deployment(
            "drill/drill", parameters={"scenario": "orange-rainstorm"}, timeout=240, poll_interval=1
        )
        assert drill.state is not None and drill.state.is_completed(), drill.state
        real = run_deployment(
            "flood-response/flood-response",
            parameters={"town": "jifeng", "level": "III"},
            timeout=240,
            poll_interval=1,
        )
        assert real.state is not None and real.state.is_completed(), real.state
        assert real.name.startswith("flood-jifeng-III")
    with session_scope() as s:
        acts = {a.drill: a for a in s.exec(select(Activation))}
        # the drill ran the scenario and ended itself; the real run is still going
        assert (acts[True].level, acts[True].scenario, acts[True].status) == (
            "II",
            "orange-rainstorm",
            "stood_down",
        )
        assert acts[False].status == "active"
        assert acts[False].level == "III" and acts[False].trigger == "manual"
        assert (
            s.exec(select(Relocation).where(Relocation.activation_id == acts[False].id)).first()
            is not None
        )
