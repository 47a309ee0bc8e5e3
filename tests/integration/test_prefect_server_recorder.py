"""The server sanqing starts records task runs in batches, and loses none of them.

Prefect's default writes each task-run event in a transaction of its own: a county's
task runs kept the server busy for a core and reached the UI tens of seconds late
(``bench/server_recorder.py``). ``LocalPrefectServer`` starts the server with
``RECORDER_DEFAULTS`` instead, unless the operator's environment says otherwise. A
batch that never fills (a town's last steps) must still reach the API: the periodic
flush writes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sanqing.prefect_server import RECORDER_DEFAULTS, LocalPrefectServer

pytestmark = pytest.mark.integration

#: Fewer task-run events than one batch holds: only the periodic flush can write them.
TASKS = 12

_FLOW = """
import sys
from prefect import flow, task

@task
def step(i: int) -> int:
    return i

@flow
def few(n: int) -> None:
    for i in range(n):
        step(i)

few(int(sys.argv[1]))
"""


def server_environment(pid: int) -> dict[str, str]:
    """The environment the server process was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def completed_task_runs(api_url: str) -> int:
    body = {"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    return int(httpx.post(f"{api_url}/task_runs/count", json=body, timeout=30).json())


def test_an_operators_setting_wins_over_sanqings_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"
    for other in RECORDER_DEFAULTS:
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(name, "7")
    server = LocalPrefectServer(tmp_path, ui=False)
    assert server.env[name] == "7"
    others = {k: v for k, v in RECORDER_DEFAULTS.items() if k != name}
    assert others.items() <= server.env.items()


def test_task_runs_are_recorded_in_batches_and_none_is_held_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in RECORDER_DEFAULTS:  # sanqing's own, whatever this shell sets
        monkeypatch.delenv(name, raising=False)
    server = LocalPrefectServer(tmp_path / "server", ui=False)
    # The recorder says how it is set, at INFO: on the server's logger and on the console
    # (a CLI test run in this process may have left the console at WARNING).
    server.env |= {
        "PREFECT_SERVER_LOGGING_LEVEL": "INFO",
        "PREFECT_LOGGING_SERVER_LEVEL": "INFO",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",
    }
    server.start()
    try:
        assert server.proc is not None
        started_with = server_environment(server.proc.pid)
        assert RECORDER_DEFAULTS.items() <= started_with.items()
        # Prefect took them (a setting renamed in an upgrade would be ignored silently).
        batch = RECORDER_DEFAULTS["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"]
        every = RECORDER_DEFAULTS["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL"]
        said = f"TaskRunRecorder consumer with batch size {batch} and flush every {every} seconds"
        deadline = time.monotonic() + 60
        while said not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert said in server.log_path.read_text()
        env = os.environ | {
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(tmp_path / "client"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
        }
        subprocess.run([sys.executable, "-c", _FLOW, str(TASKS)], env=env, check=True, timeout=300)
        # Generous for a loaded machine; the flush comes every second.
        deadline = time.monotonic() + 60
        while completed_task_runs(server.api_url) < TASKS and time.monotonic() < deadline:
            time.sleep(0.25)
        assert completed_task_runs(server.api_url) == TASKS
    finally:
        server.stop()
