"""Time the county's flood response at level I: through Prefect, and as plain domain calls.

    python bench/county_response.py [--towns 20] [--mode inprocess|pool] [--workers K]
        [--concurrent-towns 4] [--at night|day] [--skip-plain] [--skip-prefect] [--out bench/out]

Generates a synthetic county (20 towns × 15 villages × 250 households, 150 hazard
points per town) into a temporary folder, loads it into a fresh PostgreSQL app
database, then runs

- the PLAIN path: the domain functions in the order of ``flood_response``, towns
  on a thread pool of the size ``county_response`` uses (``--concurrent-towns``, default
  4 as in the flow), a town's villages in ``response.COUNTY_VILLAGE_TASKS`` groups
  (one: a county run's town steps are one task each) on a pool as wide as that (what
  Prefect's ThreadPoolTaskRunner does for ``.map``): the same concurrency on both paths, so
  the ratio is Prefect's cost, not a difference in scheduling;
- the PREFECT path: ``county_response`` against a ``prefect server start`` on
  PostgreSQL that the bench starts and stops, after emptying the run-state tables:
  ``--mode inprocess`` runs the towns as subflows in this process; ``--mode pool``
  creates the ``sanqing`` process pool, deploys ``prefect.yaml`` and starts
  ``--workers`` K process workers (``--limit 1`` each), so the county runs its towns in
  K batch runs on them (setup not timed: ``deploy_s``, ``pool_ready_s``).

Prints one JSON object, the last line of stdout (and writes it to ``--out``): ``mode,
towns, households, notices, plain_s, prefect_s, ratio, workers, flow_runs, task_runs,
peak_rss_mb {bench, server, workers}, same_figures`` and more (``cpu_s``: CPU seconds of the
plain path, of this process through Prefect, of the server, pool set-up and workers
with their flow runs, and of the server alone while the county ran: ``server_run``).
Both databases are dropped and recreated on every run: the generated town codes
include jifeng's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.plain import run_plain  # noqa: E402
from bench.pool import PrefectServer  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
PG_APP = "postgresql+psycopg://postgres@127.0.0.1:5432"
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


def fix_the_hour(at: str) -> str:
    """Run the towns at 01:00 (``night``) or 13:00 (``day``) local time, whenever the bench runs.

    The plan moves a danger zone at once at night (三个紧急撤离), before the approval:
    the towns then do their moves and notices twice, and the figures and times depend
    on the hour. A fixed-offset zone (``Etc/GMT-N``) puts every run at the same hour.
    """
    zone = zone_at(at, time.gmtime().tm_hour)
    os.environ["SANQING_TIMEZONE"] = zone
    return zone


def zone_at(at: str, utc_hour: int) -> str:
    """The fixed-offset zone whose local hour is 01 (``night``) or 13 (``day``) at ``utc_hour``."""
    offset = ((1 if at == "night" else 13) - utc_hour) % 24
    offset = offset - 24 if offset > 14 else offset  # Etc/GMT zones run from -12 to +14
    # Etc/GMT-N is N hours east of Greenwich (POSIX signs).
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


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
    """Empty the tables a response writes (every table referring to an activation); the
    registry stays."""
    from sqlalchemy import text

    from sanqing.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(text("TRUNCATE activation CASCADE"))


def use_server(server: PrefectServer, log_level: str) -> None:
    """Point this process's Prefect at the bench's server (read at import: before it)."""
    os.environ.update(
        {
            "PREFECT_API_URL": server.url,
            "PREFECT_HOME": server.env["PREFECT_HOME"],
            "PREFECT_LOGGING_LEVEL": log_level,
            "DO_NOT_TRACK": "1",
        }
    )


def run_prefect(towns: list[str], level: Any, concurrent: int, on_workers: bool) -> tuple:
    from flows.county_response import county_response

    t0 = time.perf_counter()
    state = county_response(
        towns=towns,
        level=level,
        max_concurrent_towns=concurrent,
        on_workers=on_workers,
        return_state=True,
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


def prefect_db_stats(name: str) -> dict[str, Any]:
    """Rows and size of the Prefect server's database after the run (it is new per run)."""
    import psycopg

    tables = (
        "flow_run",
        "task_run",
        "task_run_state",
        "flow_run_state",
        "log",
        "events",
        "artifact",
    )
    with psycopg.connect(f"{PG}/{name}") as conn:
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return rows | {"size_mb": round(size / 2**20, 1)}


def run_timeline(name: str) -> dict[str, Any]:
    """When the runs started and ended, seconds after the county run was created: where
    the wall time goes (a batch run's process start, the towns' waves, the tail)."""
    import psycopg

    with psycopg.connect(f"{PG}/{name}") as conn:
        runs = conn.execute(
            "SELECT flow.name, run.created, run.start_time, run.end_time FROM flow_run run "
            "JOIN flow ON flow.id = run.flow_id "
            "WHERE run.start_time IS NOT NULL AND run.end_time IS NOT NULL ORDER BY run.start_time"
        ).fetchall()
    county = [created for flow, created, _, _ in runs if flow == "county-response"]
    if len(county) != 1:  # the county run did not end: no timeline rather than no result
        return {}
    t0 = county[0]

    def after(when: Any) -> float:
        return round((when - t0).total_seconds(), 1)

    towns = [(after(start), after(end)) for flow, _, start, end in runs if flow == "flood-response"]
    if not towns:
        return {}
    return {
        "batches_started": [after(start) for flow, _, start, _ in runs if flow == "county-batch"],
        "first_town_started": min(start for start, _ in towns),
        "last_town_ended": max(end for _, end in towns),
        "town_median": round(statistics.median(end - start for start, end in towns), 1),
        "county_ended": max(after(end) for flow, _, _, end in runs if flow == "county-response"),
    }


def same_result(plain: dict[str, dict], prefect: dict[str, dict]) -> bool:
    """Whether both paths gave every town the same figures (what differs goes to stderr)."""
    if set(plain) != set(prefect):
        print(f"towns differ: {sorted(set(plain) ^ set(prefect))}", file=sys.stderr)
        return False
    differ = {
        (t, k): (plain[t][k], prefect[t][k])
        for t in plain
        for k in COMPARED
        if plain[t][k] != prefect[t][k]
    }
    for (town, key), (a, b) in list(differ.items())[:10]:
        print(f"{town} {key}: plain {a} / prefect {b}", file=sys.stderr)
    return not differ


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--towns", type=int, default=20)
    p.add_argument("--villages-per-town", type=int, default=15)
    p.add_argument("--households-per-village", type=int, default=250)
    p.add_argument("--hazard-points-per-town", type=int, default=150)
    p.add_argument("--mode", choices=("inprocess", "pool"), default="inprocess")
    p.add_argument("--workers", type=int, default=2, help="process workers (--mode pool)")
    p.add_argument(
        "--concurrent-towns", type=int, default=4, help="towns at once per process, both paths"
    )
    p.add_argument(
        "--prefect-log-level", default="WARNING", help="of the runs (INFO: as a county runs)"
    )
    p.add_argument(
        "--at",
        choices=("night", "day"),
        default="night",
        help="the towns' local hour: 01:00 (urgent moves first, the harder case) or 13:00",
    )
    p.add_argument("--skip-plain", action="store_true")
    p.add_argument("--skip-prefect", action="store_true")
    p.add_argument("--app-db", default="sanqing_bench")
    p.add_argument("--prefect-db", default="prefect_bench")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    return p.parse_args(argv)


def prepare(args: argparse.Namespace, tmp: Path, out: dict[str, Any]) -> list[str]:
    """Generate the county, load it into a fresh app database; its town codes."""
    from bench.samplegen import generate_county

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
    use_app_database(f"{PG_APP}/{args.app_db}", tmp / "data")
    t0 = time.perf_counter()
    towns = load_registry(dirs)
    out["registry_load_s"] = round(time.perf_counter() - t0, 2)
    out |= registry_counts()
    print(f"registry: {out}", file=sys.stderr, flush=True)
    return towns


def prefect_run(
    args: argparse.Namespace, tmp: Path, towns: list[str], level: Any, out: dict[str, Any]
) -> dict[str, Any]:
    """The county through Prefect: a server on PostgreSQL, in-process or on K workers."""
    from bench.pool import RssSampler, start_pool

    home = tmp / "prefect-home"
    home.mkdir()
    server = PrefectServer(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.prefect_db}", home)
    out["server_start_s"] = round(server.start(), 2)
    use_server(server, args.prefect_log_level)
    pool, sampler = None, None
    try:
        if args.mode == "pool":
            app_env = {
                "SANQING_DATABASE_URL": os.environ["SANQING_DATABASE_URL"],
                "SANQING_DATA_DIR": os.environ["SANQING_DATA_DIR"],
                "SANQING_TIMEZONE": os.environ["SANQING_TIMEZONE"],
                "PREFECT_LOGGING_LEVEL": args.prefect_log_level,
            }
            pool, times = start_pool(server.url, ROOT, tmp / "pool", args.workers, app_env)
            out |= times
            sampler = RssSampler(pool)
            sampler.start()
        server_cpu0 = server.cpu_s()
        result, elapsed, counts = run_prefect(
            towns, level, args.concurrent_towns, on_workers=args.mode == "pool"
        )
        # What the server spent while the county ran (its start and the deploy aside).
        out["cpu_s"] = out.get("cpu_s", {}) | {"server_run": round(server.cpu_s() - server_cpu0, 1)}
        db_stats = prefect_db_stats(args.prefect_db)
        out["timeline_s"] = run_timeline(args.prefect_db)
    finally:
        workers_mb = sampler.stop() if sampler else 0.0
        if pool is not None:
            pool.stop()
        server.stop()
    out["prefect_s"] = round(elapsed, 2)
    out |= counts
    out["prefect_db"] = db_stats
    out["peak_rss_mb"] = {"server": server.peak_rss_mb, "workers": workers_mb}
    out["failed_towns"] = result["failed"]
    out["households_to_relocate"] = result["households_to_relocate"]
    out["notices"] = result["notices"]
    return {t: r["figures"] for t, r in result["towns"].items() if r["ok"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    from sanqing.plans import Level

    level = Level("I")
    out: dict[str, Any] = {"mode": args.mode, "level": level.value, "at": args.at}
    out["timezone"] = fix_the_hour(args.at)
    tmp = Path(tempfile.mkdtemp(prefix="sanqing-bench-"))
    towns = prepare(args, tmp, out)
    out["workers"] = args.workers if args.mode == "pool" else 0
    concurrent = max(1, min(args.concurrent_towns, len(towns)))
    out["concurrent_towns"] = concurrent
    plain: dict[str, dict] = {}
    if not args.skip_plain:
        t0, c0 = time.perf_counter(), time.process_time()
        plain = run_plain(towns, level, concurrent)
        out["plain_s"] = round(time.perf_counter() - t0, 2)
        out["cpu_s"] = {"plain": round(time.process_time() - c0, 1)}
        print(f"plain: {out['plain_s']} s", file=sys.stderr, flush=True)
        reset_run_state()
    if not args.skip_prefect:
        c0 = time.process_time()
        figures = prefect_run(args, tmp, towns, level, out)
        # This process's CPU through Prefect (server and pool setup included), and the
        # server's, workers' and their flow runs' (children, counted once they ended).
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["cpu_s"] = out.get("cpu_s", {}) | {
            "prefect_bench": round(time.process_time() - c0, 1),
            "server_and_workers": round(children.ru_utime + children.ru_stime, 1),
        }
        if plain:
            out["ratio"] = round(out["prefect_s"] / out["plain_s"], 2)
            out["same_figures"] = same_result(plain, figures)
    if plain and "notices" not in out:
        out["households_to_relocate"] = sum(f["households_to_relocate"] for f in plain.values())
        out["notices"] = sum(sum(f["notices_by_channel"].values()) for f in plain.values())
    bench_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["peak_rss_mb"] = {"bench": bench_mb} | out.get("peak_rss_mb", {})
    out["cpus"] = os.cpu_count()
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    shutil.rmtree(tmp, ignore_errors=True)  # the generated registry and PREFECT_HOME
    text = json.dumps(out, ensure_ascii=False)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"county-{args.mode}-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
