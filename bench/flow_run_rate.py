"""How fast a Prefect server on PostgreSQL creates flow runs: the server's own limit for a
province that starts one run per town (or per batch of towns).

    python bench/flow_run_rate.py [--runs 400] [--concurrency 1 8 32]

Starts ``prefect server start`` on a fresh PostgreSQL database (127.0.0.1:5432, trust
auth), registers one flow, then creates ``--runs`` flow runs, each with its own
idempotency key as ``county_response`` gives a town's run, from ``--concurrency``
clients at once (asyncio), and prints per concurrency the runs per second, the median
and 95th-percentile latency of a creation, and the server's peak memory; the last line
of stdout is one JSON object. Runs are created Scheduled and never executed: this
measures the API and its database, not workers. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.county_response import PrefectServer, recreate_databases  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"


async def create_runs(n: int, concurrency: int, flow_id: Any) -> tuple[float, list[float]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import FlowRunCreate
    from prefect.states import Scheduled, to_state_create

    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        async with get_client() as client:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = FlowRunCreate(
                    flow_id=flow_id,
                    name=f"town-{i}",
                    state=to_state_create(Scheduled()),
                    idempotency_key=f"bench-{uuid.uuid4()}",
                    parameters={"town": f"t{i}", "level": "I"},
                )
                t0 = time.perf_counter()
                r = await client._client.post("/flow_runs/", json=body.model_dump(mode="json"))
                r.raise_for_status()
                latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies


async def register_flow() -> Any:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await client.create_flow_from_name("flood-response")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=400)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = p.parse_args()
    db = f"bench_flow_rate_{os.getpid()}"
    recreate_databases(db)
    home = Path(tempfile.mkdtemp(prefix="bench-flow-rate-"))
    server = PrefectServer(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}", home)
    out: dict[str, Any] = {"runs": args.runs, "server_start_s": round(server.start(), 2)}
    os.environ.update(
        {"PREFECT_API_URL": server.url, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1"}
    )
    try:
        flow_id = asyncio.run(register_flow())
        out["by_concurrency"] = []
        for c in args.concurrency:
            wall, lat = asyncio.run(create_runs(args.runs, c, flow_id))
            row = {
                "concurrency": c,
                "runs_per_s": round(args.runs / wall, 1),
                "p50_ms": round(statistics.median(lat) * 1000, 1),
                "p95_ms": round(statistics.quantiles(lat, n=20)[18] * 1000, 1),
            }
            print(json.dumps(row), file=sys.stderr)
            out["by_concurrency"].append(row)
    finally:
        server.stop()
        out["server_peak_rss_mb"] = server.peak_rss_mb
        recreate_databases(db)  # leaves it empty; dropped below
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    print(json.dumps(out))


if __name__ == "__main__":
    main()
