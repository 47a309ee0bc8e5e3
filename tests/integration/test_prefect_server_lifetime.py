"""A Prefect server started for sanqing dies with the process that started it, `kill -9` too.

Left behind, it kept its port and its database, and the next `sanqing serve` talked to
it unawares. Both the control room's server (`LocalPrefectServer`) and the drill's are
checked: a parent is killed with SIGKILL, and nothing it started may live on.
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

from sanqing.prefect_server import port_in_use
from sanqing.settings import REPO_ROOT

pytestmark = pytest.mark.integration

#: Generous: a cold server start on a busy 2-core machine took 37 s.
START_TIMEOUT_S = 180


def children(pid: int) -> list[int]:
    """Every process below ``pid`` (children of all its threads, recursively)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not ours counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def listening_ports(pid: int) -> set[int]:
    """TCP ports ``pid`` listens on (from /proc: no extra tool needed)."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    for fd in fds:
        try:  # a busy server opens and closes files meanwhile: one gone is no reason to stop
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def wait_until(what: str, check: object, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s" + (f": {log.read_text()}" if log else ""))
        time.sleep(0.3)


def activations(db_url: str) -> int:
    """Activations in the drill's database (0 while it is not there yet)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM activation")).scalar_one())
    except SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to SIGKILL at the end, whatever the test found: no test leaves a server behind."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


PARENT = """
import sys, time
from pathlib import Path
from sanqing.prefect_server import LocalPrefectServer
server = LocalPrefectServer(Path(sys.argv[1]), ui=False)
server.start(timeout=float(sys.argv[2]))
print(server.proc.pid, server.port, flush=True)
time.sleep(3600)
"""


def test_the_control_room_server_dies_with_its_parent(tmp_path: Path, reaper: list[int]) -> None:
    log = tmp_path / "parent.log"
    with open(log, "wb") as out:
        parent = subprocess.Popen(
            [sys.executable, "-c", PARENT, str(tmp_path / "home"), str(START_TIMEOUT_S)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=out,
        )
    reaper.append(parent.pid)
    assert parent.stdout is not None
    line = parent.stdout.readline().decode()  # printed once the server answers
    assert line, log.read_text()
    pid, port = (int(x) for x in line.split())
    reaper.append(pid)
    assert alive(pid)
    wait_until("the server listens on its port", lambda: port in listening_ports(pid), 30)

    below = children(pid)  # none today: one process; any it had must end too
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    wait_until("the server ends with its parent", lambda: not alive(pid), 30)
    assert not any(alive(p) for p in below)
    # the leader shows as ended while its threads still close their files: a moment more
    wait_until("its port is free", lambda: not port_in_use("127.0.0.1", port), 30)


def test_a_killed_drill_leaves_no_prefect_server_behind(
    db_url: str, tmp_path: Path, reaper: list[int]
) -> None:
    # A data directory that does not exist yet: nothing but the start-up creates it
    # when the app database is PostgreSQL (Prefect's local API could not start: 98 s).
    # A password in the environment for `serve` must not lock the drill out of its server.
    env = os.environ | {
        "SANQING_DATA_DIR": str(tmp_path / "fresh" / "data"),
        "PREFECT_SERVER_API_AUTH_STRING": "duty:flood-2026",
    }
    for name in ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_API_AUTH_STRING"):
        env.pop(name, None)
    if db_url.startswith("sqlite"):
        env.pop("SANQING_DATABASE_URL", None)  # the default: a file in the data directory
        db_url = f"sqlite:///{tmp_path / 'fresh' / 'data' / 'sanqing.db'}"
    log = tmp_path / "drill.log"
    with open(log, "wb") as out:
        drill = subprocess.Popen(
            [sys.executable, "-m", "cli", "drill", "--out", str(tmp_path / "out")],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    reaper.append(drill.pid)
    servers: dict[int, set[int]] = {}

    def a_server_listens() -> bool:
        if drill.poll() is not None:
            pytest.fail(f"the drill ended before its server was up: {log.read_text()}")
        servers.clear()
        for p in children(drill.pid):
            reaper.append(p)
            if ports := listening_ports(p):
                servers[p] = ports
        return bool(servers)

    wait_until("a Prefect server under the drill", a_server_listens, START_TIMEOUT_S, log)

    # Killed mid-run: the flow has opened the drill's activation (so the server let it in).
    def opened() -> bool:
        if drill.poll() is not None:
            pytest.fail(f"the drill ended before it activated the plan: {log.read_text()}")
        return activations(db_url) > 0

    wait_until("the drill's activation", opened, START_TIMEOUT_S, log)
    below = children(drill.pid)
    drill.send_signal(signal.SIGKILL)
    drill.wait()
    wait_until(
        "every process the drill started ends with it",
        lambda: not any(alive(p) for p in below),
        30,
    )
    ports = {port for found in servers.values() for port in found}
    wait_until(
        "its ports are free", lambda: not any(port_in_use("127.0.0.1", p) for p in ports), 10
    )
