"""A county's towns on Prefect workers: a server on PostgreSQL, the ``sanqing`` process
pool, the deployments of ``prefect.yaml`` and two process workers.

Four synthetic towns run through ``county_response`` in batches on the workers; each
town runs exactly once, in a batch run a worker of the pool ran, with the figures of the
same towns run in-process; a second county run starts nothing again. The databases (the
Prefect server's and two app databases) are created for the test and dropped after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.county_response import COMPARED
from bench.samplegen import generate_county
from flows.deployments import deployments
from sanqing import db
from sanqing.prefect_server import LocalPrefectServer, LocalWorkPool
from sanqing.settings import REPO_ROOT, get_settings

pytestmark = pytest.mark.integration

PG = "postgresql://postgres@127.0.0.1:5432"


def pg_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(f"{PG}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("SANQING_TEST_DATABASE_URL"):
            raise  # CI has PostgreSQL: its absence is a failure there
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """Three fresh PostgreSQL databases: the Prefect server's and two app databases."""
    import psycopg

    pg_or_skip()
    suffix = uuid.uuid4().hex[:10]
    names = {"prefect": f"it_prefect_{suffix}", "pool": f"it_pool_{suffix}"}
    names["inprocess"] = f"it_inproc_{suffix}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_towns(
    url: str, data_dir: Path, town_dirs: list[Path], mp: pytest.MonkeyPatch
) -> list[str]:
    from sanqing.db import session_scope
    from sanqing.registry import load_town_dir

    mp.setenv("SANQING_DATABASE_URL", url)
    mp.setenv("SANQING_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    db.reset_engines()
    db.init_db()
    codes = []
    for d in town_dirs:
        with session_scope() as s:
            report = load_town_dir(s, d)
            report.raise_for_problems()
            codes.append(report.town_code)
    db.reset_engines()
    return codes


def run_county(env: dict[str, str], towns: list[str], on_workers: bool) -> dict[str, Any]:
    """county_response in a process of its own (as a duty officer's command would)."""
    code = (
        "import json, sys\n"
        "from flows.county_response import county_response\n"
        "state = county_response(towns=sys.argv[1].split(','), level='I',"
        f" on_workers={on_workers}, return_state=True)\n"
        "print(json.dumps({'run': str(state.state_details.flow_run_id),"
        " 'result': state.result()}, default=str))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, ",".join(towns)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def compared(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {town: {k: r["figures"][k] for k in COMPARED} for town, r in result["towns"].items()}


def town_runs(api_url: str) -> dict[str, list[Any]]:
    """Per town, its flood-response runs whose parent is a county-batch run: (run, batch)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    out: dict[str, list[Any]] = {}
    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        flows = {f.id: f.name for f in client.read_flows()}
        batches = [r for r in client.read_flow_runs() if flows[r.flow_id] == "county-batch"]
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[b.id for b in batches])
            )
        )
        by_id = {b.id: b for b in batches}
        for run in children:
            parent = client.read_task_run(run.parent_task_run_id).flow_run_id
            out.setdefault(run.parameters["town"], []).append((run, by_id[parent]))
    return out


def deployed(api_url: str) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        return {d.name: d.entrypoint or "" for d in client.read_deployments() if d.work_pool_name}


def test_towns_run_once_each_on_the_workers_with_the_in_process_figures(
    databases: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = generate_county(
        tmp_path / "towns",
        towns=4,
        villages_per_town=3,
        households_per_village=20,
        hazard_points_per_town=6,
    )
    app = {k: f"postgresql+psycopg://postgres@127.0.0.1:5432/{databases[k]}" for k in databases}
    towns = load_towns(app["pool"], tmp_path / "data-pool", dirs, monkeypatch)
    assert load_towns(app["inprocess"], tmp_path / "data-in", dirs, monkeypatch) == towns

    server = LocalPrefectServer(
        tmp_path / "server",
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{databases['prefect']}",
        ui=False,
    )
    app_env = {
        "SANQING_DATABASE_URL": app["pool"],
        "SANQING_DATA_DIR": str(tmp_path / "data-pool"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    server.start()
    pool = LocalWorkPool(server.api_url, REPO_ROOT, tmp_path / "pool", env=app_env)
    try:
        pool.create_and_deploy(schedules=False)  # no outbox or watch runs beside
        assert deployed(server.api_url) == {d.name: d.entrypoint for d in deployments()}
        pool.start_workers(2)
        client_env = pool.env | {"PREFECT_HOME": str(tmp_path / "client-home")}
        on_pool = run_county(client_env, towns, on_workers=True)
        in_process = run_county(
            client_env
            | {
                "SANQING_DATABASE_URL": app["inprocess"],
                "SANQING_DATA_DIR": str(tmp_path / "data-in"),
            },
            towns,
            on_workers=False,
        )
        runs = town_runs(server.api_url)
        again = run_county(client_env, towns, on_workers=True)
        runs_after = town_runs(server.api_url)
    finally:
        pool.stop()
        server.stop()

    assert on_pool["result"]["failed"] == [] and in_process["result"]["failed"] == []
    assert compared(on_pool["result"]) == compared(in_process["result"])
    assert on_pool["result"]["households_to_relocate"] > 0
    assert sorted(runs) == sorted(towns)
    for town, [(run, batch)] in runs.items():  # exactly one run per town
        assert run.state.is_completed(), (town, run.state)
        assert batch.work_pool_name == "sanqing" and batch.infrastructure_pid, town
    assert len({batch.id for [(_, batch)] in runs.values()}) == 2  # one batch per worker
    # the second county run started no town again, and gives the same figures
    assert {t: [r.id for r, _ in rs] for t, rs in runs_after.items()} == {
        t: [r.id for r, _ in rs] for t, rs in runs.items()
    }
    assert compared(again["result"]) == compared(on_pool["result"])
