"""Crash and resume: a drill killed with SIGKILL at several steps, then run again, ends
exactly as a drill that was never interrupted (nothing lost, nothing twice).

Each drill is a real `sanqing drill` process against one local Prefect server; the
test watches the app database and kills the process the moment a step has begun
writing (activation, relocations, notices, the first report).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sanqing.prefect_server import LocalPrefectServer
from sanqing.settings import REPO_ROOT

pytestmark = pytest.mark.integration

#: Where to kill the drill: the first row of each step's table (SQL on the app database).
KILL_POINTS = {
    "activated": "SELECT count(*) FROM activation",
    "relocating": "SELECT count(*) FROM relocation",
    "notices": "SELECT count(*) FROM notice WHERE channel = 'sms'",
    "reported": "SELECT count(*) FROM report",
}
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrefectServer]:
    server = LocalPrefectServer(tmp_path_factory.mktemp("prefect-server"), ui=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def drill_process(data: Path, server: LocalPrefectServer, home: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SANQING_DATA_DIR": str(data),
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "DO_NOT_TRACK": "1",
    }
    env.pop("SANQING_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "drill", "--out", str(data / "out")],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def run_to_end(data: Path, server: LocalPrefectServer, home: Path) -> None:
    proc = drill_process(data, server, home)
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out.decode(errors="replace")


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # the table is not there yet, or busy for a moment
        return 0


def kill_when(data: Path, server: LocalPrefectServer, home: Path, sql: str) -> None:
    """Start the drill and SIGKILL it as soon as ``sql`` counts a row."""
    proc = drill_process(data, server, home)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while count(data / "sanqing.db", sql) == 0:
            assert proc.poll() is None, "the drill ended before the kill point"
            assert time.monotonic() < deadline, "the kill point was never reached"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def outcome(db: Path) -> dict[str, Any]:
    """What the drill left, without the clock: every row that matters, by its stable key."""
    queries = {
        "activations": "SELECT id, level, status, village_codes FROM activation",
        "inspections": "SELECT id, status FROM inspection",
        "relocations": "SELECT id, people, shelter_code, cadre_code, status, priority, shortfall"
        " FROM relocation",
        "notices": "SELECT id, channel, purpose, recipient, status FROM notice",
        "roads": "SELECT id, machine_code, status FROM roadincident",
        "approvals": "SELECT id, decision FROM approval",
        "escalations": "SELECT id, to_cadre_code FROM escalation",
        "reports": "SELECT id, kind, seq, payload FROM report",
        "patrol": "SELECT id, all_clear FROM patrol",
    }
    out: dict[str, Any] = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for name, sql in queries.items():
            rows = sorted(tuple(r) for r in conn.execute(sql))
            if name == "reports":  # the figures, not when they were written
                rows = [(i, k, s, _figures(p)) for i, k, s, p in rows]
            out[name] = rows
    return out


def _figures(payload: str) -> str:
    figures = json.loads(payload).get("figures", {})
    figures.pop("activated_at", None)
    return hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()


def test_a_drill_killed_at_any_step_resumes_to_the_same_end(
    prefect_server: LocalPrefectServer, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    run_to_end(clean, prefect_server, tmp_path / "home-clean")
    expected = outcome(clean / "sanqing.db")
    assert expected["activations"][0][2] == "stood_down"
    assert len(expected["notices"]) > 1000 and len(expected["reports"]) == 3
    for name, sql in KILL_POINTS.items():
        data = tmp_path / name
        kill_when(data, prefect_server, tmp_path / f"home-{name}", sql)
        interrupted = outcome(data / "sanqing.db")
        assert interrupted != expected, f"{name}: the kill came after the end"
        run_to_end(data, prefect_server, tmp_path / f"home-{name}")
        got = outcome(data / "sanqing.db")
        for table in expected:
            assert got[table] == expected[table], f"killed at {name}: {table} differ"
