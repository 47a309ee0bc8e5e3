"""What recording task runs costs the Prefect server: Prefect's default against sanqing's.

    python bench/server_recorder.py [--tasks 300] [--db postgresql|sqlite]

Starts a ``LocalPrefectServer`` twice (a fresh database each time): once with the task
run recorder as Prefect ships it (each task-run event written in its own transaction)
and once with ``sanqing.prefect_server.RECORDER_DEFAULTS`` (batches of up to 100,
flushed every second). Each time one flow runs ``--tasks`` no-op tasks one after
another, then the bench waits until the API lists every task run as completed.

Prints one JSON object, the last line of stdout: per setting ``flow_s`` (the flow's
own wall time), ``recorded_s`` (from the flow's end until the API had every task run
completed: how late the UI is), ``server_cpu_s`` (the server's CPU from the flow's
start until then) and ``server_cpu_ms_per_task``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.county_response import recreate_databases  # noqa: E402
from bench.pool import cpu_s  # noqa: E402

PG_DB = "sanqing_bench_recorder"

#: The child that runs the flow: its own process, so the settings of one server do not
#: leak into the next, and the flow's CPU is not the bench's.
_FLOW = """
import sys, time
from prefect import flow, task

@task
def step(i: int) -> int:
    return i

@flow
def many(n: int) -> None:
    for i in range(n):
        step(i)

t0 = time.perf_counter()
many(int(sys.argv[1]))
print(time.perf_counter() - t0)
"""


def completed_task_runs(api_url: str) -> int:
    """How many task runs the API counts as completed."""
    import httpx

    body = {"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    return int(httpx.post(f"{api_url}/task_runs/count", json=body, timeout=30).json())


def one(tasks: int, db: str, recorder: dict[str, str]) -> dict[str, Any]:
    from sanqing import prefect_server

    home = Path(tempfile.mkdtemp(prefix="sanqing-recorder-"))
    url = None
    if db == "postgresql":
        recreate_databases(PG_DB)
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DB}"
    server = prefect_server.LocalPrefectServer(home, database_url=url, ui=False)
    for name in prefect_server.RECORDER_DEFAULTS:  # neither sanqing's nor the shell's
        server.env.pop(name, None)
    server.env |= recorder
    server.start()
    assert server.proc is not None
    try:
        env = os.environ | {
            "PREFECT_API_URL": server.api_url,
            "PREFECT_HOME": str(home),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
        }
        time.sleep(3)  # the server's start-up work is not what is measured
        c0 = cpu_s(server.proc.pid)
        out = subprocess.run(
            [sys.executable, "-c", _FLOW, str(tasks)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        ended = time.perf_counter()
        deadline = ended + 600
        while completed_task_runs(server.api_url) < tasks:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the API lists fewer than {tasks} task runs after 600 s")
            time.sleep(0.2)
        recorded_s = time.perf_counter() - ended
        server_cpu = cpu_s(server.proc.pid) - c0
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
        if db == "postgresql":
            recreate_databases(PG_DB)  # left empty
    return {
        "flow_s": round(float(out.stdout.strip().splitlines()[-1]), 2),
        "recorded_s": round(recorded_s, 2),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_task": round(1000 * server_cpu / tasks, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=300)
    p.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    args = p.parse_args(argv)

    from sanqing.prefect_server import RECORDER_DEFAULTS

    result: dict[str, Any] = {"tasks": args.tasks, "db": args.db, "cpus": os.cpu_count()}
    result["prefect_default"] = one(args.tasks, args.db, {})
    result["sanqing"] = one(args.tasks, args.db, dict(RECORDER_DEFAULTS))
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
