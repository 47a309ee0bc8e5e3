"""The bench's work pool: K process workers on the bench's server, and their peak memory.

A worker's flow-run processes end before the bench does, so their peak is sampled while
the county runs (the sum of the resident memory of every worker and its flow runs).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from sanqing.prefect_server import LocalPrefectServer, LocalWorkPool, descendants


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class RssSampler(threading.Thread):
    """Samples the memory of the workers and all their children every ``every_s``."""

    def __init__(self, pool: LocalWorkPool, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pool = pool
        self.every_s = every_s
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = [w.pid for w in self.pool.workers]
            pids += [p for w in pids for p in descendants(w)]
            self.peak_mb = max(self.peak_mb, rss_mb(pids))
            self.done.wait(self.every_s)

    def stop(self) -> float:
        self.done.set()
        self.join(5)
        return round(self.peak_mb, 1)


def start_pool(api_url: str, root: Path, home: Path, workers: int, env: dict[str, str]) -> Any:
    """Create the pool, deploy ``prefect.yaml``, start the workers and wait until every
    one is online (else the county would make fewer batches). Returns (pool, seconds)."""
    t0 = time.perf_counter()
    pool = LocalWorkPool(api_url, root, home, env=env | {"PYTHONPATH": str(root)})
    pool.create_and_deploy(schedules=False)
    deployed_s = time.perf_counter() - t0
    pool.start_workers(workers)
    wait_online(pool.pool, workers)
    return pool, {
        "deploy_s": round(deployed_s, 2),
        "pool_ready_s": round(time.perf_counter() - t0, 2),
    }


def wait_online(pool: str, workers: int, timeout: float = 120) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import WorkerFilter, WorkerFilterStatus

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            online = client.read_workers_for_work_pool(
                pool, worker_filter=WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"]))
            )
            if len(online) >= workers:
                return
            time.sleep(0.5)
    raise RuntimeError(f"{workers} workers not online after {timeout} s")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (the server may fork workers)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
    return round(total / 1024, 1)


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PrefectServer(LocalPrefectServer):
    """The project's local server on PostgreSQL, measuring its peak memory when stopped."""

    def __init__(self, db_url: str, home: Path) -> None:
        super().__init__(home, database_url=db_url, ui=False)
        self.url = self.api_url
        self.peak_rss_mb = 0.0

    def cpu_s(self) -> float:
        """The server process's CPU seconds so far."""
        return cpu_s(self.proc.pid) if self.proc is not None else 0.0

    def stop(self, timeout: float = 20) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.peak_rss_mb = peak_rss_mb(self.proc.pid)
        super().stop(timeout)
