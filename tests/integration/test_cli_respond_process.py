"""`sanqing respond` as a duty officer runs it: a fresh process, Prefect set up before it loads.

Prefect reads its settings when it is imported; a command that imported its flow
before ``prepare_prefect_env`` ran Prefect with the user's defaults (its log at
INFO on the officer's terminal, its home outside the data directory).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sanqing.settings import REPO_ROOT

pytestmark = pytest.mark.integration


def test_respond_in_a_fresh_process_runs_prefect_as_configured(tmp_path: Path) -> None:
    env = os.environ | {"SANQING_DATA_DIR": str(tmp_path / "data"), "DO_NOT_TRACK": "1"}
    for name in (
        "PREFECT_API_URL",
        "PREFECT_HOME",
        "PREFECT_LOGGING_LEVEL",
        "SANQING_DATABASE_URL",
    ):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "cli", "respond", "--town", "jifeng", "--level", "IV"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "应转移" in output  # the summary is printed
    # quiet: Prefect's INFO lines (flow run began, task finished …) are not on the terminal
    assert "| INFO" not in output and "Beginning flow run" not in output, output
    # and its home (the local API's database) is under the data directory
    assert (tmp_path / "data" / "prefect" / "prefect.db").is_file()
