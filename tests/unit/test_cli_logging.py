"""The logging `prepare_prefect_env` sets up: the runs' own log at INFO, the rest quiet.

Checked in a fresh process as a command runs it (the environment set first, Prefect
imported after), so a key Prefect does not know would fail here, not silently at night.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sanqing.settings import REPO_ROOT

PROBE = """
import json, logging
from cli.common import prepare_prefect_env
from sanqing.settings import get_settings
prepare_prefect_env(get_settings())
from prefect import flow  # reads its settings and sets up logging, as a command does
from prefect.logging.configuration import PROCESS_LOGGING_CONFIG
def level(name):
    return logging.getLevelName(logging.getLogger(name).getEffectiveLevel())
console = [h for h in logging.getLogger().handlers if type(h).__name__ == "PrefectConsoleHandler"]
print(json.dumps({
    "flow_runs": level("prefect.flow_runs"),
    "task_runs": level("prefect.task_runs"),
    "runner": level("prefect.flow_runs.runner"),
    "prefect": level("prefect"),
    "client": level("prefect.client"),
    "httpx": level("httpx"),
    "console": [logging.getLevelName(h.level) for h in console],
}))
"""

LOGGING_VARS = (
    "PREFECT_LOGGING_LEVEL",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL",
)


def probe(tmp_path: Path, **env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if k not in LOGGING_VARS}
    base |= {"SANQING_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_runs_log_at_info_while_prefect_and_the_terminal_stay_at_warning(
    tmp_path: Path,
) -> None:
    assert probe(tmp_path) == {
        "flow_runs": "INFO",  # get_run_logger() in a flow: the step lines reach the UI
        "task_runs": "INFO",  # and in a task
        "runner": "INFO",  # a served run's own process lines (it belongs to the run)
        "prefect": "WARNING",  # Prefect's internals stay quiet
        "client": "WARNING",
        "httpx": "WARNING",
        "console": ["WARNING"],  # and the officer's terminal shows warnings only
    }


def test_levels_the_user_set_win(tmp_path: Path) -> None:
    got = probe(
        tmp_path,
        PREFECT_LOGGING_LEVEL="DEBUG",
        PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL="ERROR",
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="INFO",
    )
    assert got["prefect"] == "DEBUG"
    assert got["task_runs"] == "ERROR"
    assert got["flow_runs"] == "INFO"
    assert got["console"] == ["INFO"]
