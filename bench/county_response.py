"""Time the county's flood response at level I: through Prefect, and as plain domain calls.

    python bench/county_response.py [--towns 20] [--skip-plain] [--out bench/out]

Generates a synthetic county (20 towns × 15 villages × 250 households, 150 hazard
points per town) into a temporary folder, loads it into a fresh PostgreSQL app
database, then runs

- the PLAIN path: the domain functions in the order of ``flood_response``, towns
  on a thread pool of the size ``county_response`` uses (``--workers``, default 4 as
  in the flow), a town's village groups (``response.village_groups``: at most
  six per town) on a pool as wide as that (what Prefect's ThreadPoolTaskRunner does
  for ``.map``): the same concurrency on both paths, so
  the ratio is Prefect's cost, not a difference in scheduling;
- the PREFECT path: ``county_response`` against a ``prefect server start`` on
  PostgreSQL that the bench starts and stops, after emptying the run-state tables.

Prints one JSON object (and writes it to ``--out``). Both databases are dropped and
recreated on every run: the generated town codes include jifeng's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sanqing.prefect_server import LocalPrefectServer  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
#: Figures that must be equal between the two paths (times and ids may differ).
COMPARED = (
    "households_to_relocate",
    "people_to_relocate",
    "vulnerable_by_kind",
    "shelters_used",
    "shelter_shortfall_people",
    "hazard_points_inspected",
    "on_duty",
    "notices_by_channel",
    "roads_blocked",
)


def recreate_databases(*names: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')


def use_app_database(url: str, data_dir: Path) -> None:
    from sanqing import db
    from sanqing.settings import get_settings

    os.environ["SANQING_DATABASE_URL"] = url
    os.environ["SANQING_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    db.reset_engines()
    db.init_db()


def load_registry(town_dirs: list[Path]) -> list[str]:
    from sanqing.db import session_scope
    from sanqing.registry import load_town_dir

    codes = []
    for d in town_dirs:
        with session_scope() as session:
            report = load_town_dir(session, d)
            report.raise_for_problems()
            codes.append(report.town_code)
    return codes


def registry_counts() -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import select

    from sanqing.db import session_scope
    from sanqing.models import HazardPoint, Household, Town, Village

    with session_scope() as s:
        return {
            name: s.exec(select(func.count()).select_from(model)).one()
            for name, model in (
                ("towns", Town),
                ("villages", Village),
                ("households", Household),
                ("hazard_points", HazardPoint),
            )
        }


def reset_run_state() -> None:
    """Empty the tables a response writes; the registry stays."""
    from sqlalchemy import text

    from sanqing.db import get_engine

    tables = (
        "activation, dutyshift, inspection, relocation, roadincident, notice, report, timelineevent, "
        "approval, patrol, escalation"
    )
    with get_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {tables}"))


# --- the plain path: flood_response's steps without Prefect --------------------------------


def plain_town(town: str, level: Any, locale: str = "zh-CN", plan_name: str = "flood") -> dict:
    from sanqing import reporting, response
    from sanqing.db import session_scope
    from sanqing.outbox import notices
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry, find_town

    plan = load_plan(plan_name)
    phase = plan.level(level).inspection_phases[0]
    ensure_registry(town)
    with session_scope() as s:
        act = response.activate_plan(
            session=s, town=find_town(s, town), plan=plan, level=level, warning=None, drill=False
        )
    aid, villages = act.activation_id, act.village_codes

    groups = response.village_groups(villages)  # the flow's fan-out: one task per group

    def per_village(step: Any) -> list[Any]:
        def one(group: list[str]) -> Any:
            out = []
            for code in group:
                with session_scope() as s:
                    out.append(step(s, code))
            return out

        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            return list(pool.map(one, groups))

    per_village(
        lambda s, v: response.inspect_hazards(
            session=s,
            activation_id=aid,
            village_code=v,
            phase=phase,
            plan=plan,
            findings={},
            drill=False,
        )
    )
    with session_scope() as s:  # nobody can answer here: the level's timeout rule at once
        req = response.request_approval(s, activation_id=aid, plan=plan)
        if req is not None:
            response.decide_approval(
                s,
                approval_id=req.approval_id,
                answer=None,
                on_timeout=req.on_timeout,
                unattended=True,
            )
    per_village(
        lambda s, v: response.plan_relocations(
            session=s, activation_id=aid, village_code=v, plan=plan
        )
    )
    with session_scope() as s:
        response.assign_town_shelters(session=s, activation_id=aid, plan=plan)
    per_village(
        lambda s, v: notices.issue_notices(
            session=s, activation_id=aid, village_code=v, plan=plan, locale=locale
        )
    )
    with session_scope() as s:
        response.clear_roads(session=s, activation_id=aid, reports=[], plan=plan)
    with session_scope() as s:
        reporting.report_upward(session=s, activation_id=aid, plan=plan, locale=locale)
    with session_scope() as s:
        return reporting.summarize(session=s, activation_id=aid)


def run_plain(towns: list[str], level: Any, workers: int) -> dict[str, dict]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {t: pool.submit(plain_town, t, level) for t in towns}
    return {t: f.result() for t, f in futures.items()}


# --- the Prefect path -----------------------------------------------------------------------


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


class PrefectServer(LocalPrefectServer):
    """The project's local server on PostgreSQL, measuring its peak memory when stopped."""

    def __init__(self, db_url: str, home: Path) -> None:
        super().__init__(home, database_url=db_url, ui=False)
        self.url = self.api_url
        self.peak_rss_mb = 0.0

    def stop(self, timeout: float = 20) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.peak_rss_mb = peak_rss_mb(self.proc.pid)
        super().stop(timeout)


def run_prefect(
    towns: list[str], level: Any, workers: int, server: PrefectServer
) -> tuple[dict, float, dict]:
    # Prefect reads its settings at import: set the environment first.
    os.environ.update(
        {
            "PREFECT_API_URL": server.url,
            "PREFECT_HOME": server.env["PREFECT_HOME"],
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
        }
    )
    from flows.county_response import county_response

    t0 = time.perf_counter()
    state = county_response(
        towns=towns, level=level, max_concurrent_towns=workers, return_state=True
    )
    elapsed = time.perf_counter() - t0
    result = state.result()
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)  # send the last logs before the server stops
    return result, elapsed, prefect_counts(state.state_details.flow_run_id)


def prefect_counts(parent_id: Any) -> dict[str, int]:
    """Runs of this bench (the Prefect database is new for every bench run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        # The server records task runs from their events, a little after they ran.
        task_runs, deadline = -1, time.monotonic() + 60
        while time.monotonic() < deadline:
            count = client.request("POST", "/task_runs/count", json={}).json()
            if count == task_runs:
                break
            task_runs = count
            time.sleep(2)
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
            )
        )
        return {
            "task_runs": task_runs,
            "flow_runs": client.count_flow_runs(),
            "town_runs_under_parent": len(children),
        }


def same_result(plain: dict[str, dict], prefect: dict[str, dict]) -> bool:
    if set(plain) != set(prefect):
        return False
    return all(
        {k: plain[t][k] for k in COMPARED} == {k: prefect[t][k] for k in COMPARED} for t in plain
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--towns", type=int, default=20)
    p.add_argument("--villages-per-town", type=int, default=15)
    p.add_argument("--households-per-village", type=int, default=250)
    p.add_argument("--hazard-points-per-town", type=int, default=150)
    p.add_argument(
        "--workers", type=int, default=4, help="towns at once, both paths (the flow's default)"
    )
    p.add_argument("--skip-plain", action="store_true")
    p.add_argument("--skip-prefect", action="store_true")
    p.add_argument("--app-db", default="sanqing_bench")
    p.add_argument("--prefect-db", default="prefect_bench")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = p.parse_args(argv)

    from bench.samplegen import generate_county
    from sanqing.plans import Level

    level = Level("I")
    out: dict[str, Any] = {"level": level.value}
    tmp = Path(tempfile.mkdtemp(prefix="sanqing-bench-"))
    t0 = time.perf_counter()
    dirs = generate_county(
        tmp / "towns",
        towns=args.towns,
        villages_per_town=args.villages_per_town,
        households_per_village=args.households_per_village,
        hazard_points_per_town=args.hazard_points_per_town,
    )
    out["generate_s"] = round(time.perf_counter() - t0, 2)

    recreate_databases(args.app_db, args.prefect_db)
    use_app_database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.app_db}", tmp / "data")
    t0 = time.perf_counter()
    towns = load_registry(dirs)
    out["registry_load_s"] = round(time.perf_counter() - t0, 2)
    out |= registry_counts()
    print(f"registry: {out}", file=sys.stderr, flush=True)
    workers = max(1, min(args.workers, len(towns)))
    out["town_workers"] = workers

    plain: dict[str, dict] = {}
    if not args.skip_plain:
        t0 = time.perf_counter()
        plain = run_plain(towns, level, workers)
        out["plain_s"] = round(time.perf_counter() - t0, 2)
        out["peak_rss_after_plain_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
        print(f"plain: {out['plain_s']} s", file=sys.stderr, flush=True)
        reset_run_state()

    if not args.skip_prefect:
        home = tmp / "prefect-home"
        home.mkdir()
        server = PrefectServer(
            f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.prefect_db}", home
        )
        out["server_start_s"] = round(server.start(), 2)
        try:
            result, elapsed, counts = run_prefect(towns, level, workers, server)
        finally:
            server.stop()
        out["prefect_s"] = round(elapsed, 2)
        out |= counts
        out["server_peak_rss_mb"] = server.peak_rss_mb
        out["failed_towns"] = result["failed"]
        figures = {t: r["figures"] for t, r in result["towns"].items() if r["ok"]}
        out["households_to_relocate"] = result["households_to_relocate"]
        out["notices"] = result["notices"]
        if plain:
            out["ratio"] = round(out["prefect_s"] / out["plain_s"], 2)
            out["same_result"] = same_result(plain, figures)
    if plain and "households_to_relocate" not in out:
        out["households_to_relocate"] = sum(f["households_to_relocate"] for f in plain.values())
        out["notices"] = sum(sum(f["notices_by_channel"].values()) for f in plain.values())
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["app_db"] = f"postgresql://127.0.0.1:5432/{args.app_db}"
    out["prefect_db"] = f"postgresql://127.0.0.1:5432/{args.prefect_db}"
    out["cpus"] = os.cpu_count()

    shutil.rmtree(tmp, ignore_errors=True)  # the generated registry and PREFECT_HOME
    text = json.dumps(out, ensure_ascii=False)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"county-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
