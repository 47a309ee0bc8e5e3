"""Time one synthetic town's level-I response as plain domain calls, step by step.

    python bench/profile_town.py [--db sqlite|postgresql|both] [--runs 3] [--profile]
        [--level I] [--at night|day] [--dump OUT.json]

Generates one town of the county bench (15 villages × 250 households, 150 hazard
points), loads it into a fresh SQLite file and/or a fresh PostgreSQL database
(``sanqing_profile`` on 127.0.0.1:5432, dropped afterwards), and runs the PLAIN
path of ``bench/county_response.py`` for it: the same functions in the same
order, village groups on a pool as wide as the groups, at 01:00 (``--at night``,
the default, as the county bench: danger zones move before the approval) or 13:00
local time. Prints CPU seconds
(process time: every thread) and wall seconds per step, medians over ``--runs``
(the run state is emptied between runs, the registry stays). ``--profile`` adds
a cProfile of one more run (its villages one after another: cProfile sees one
thread), top 25 by cumulative time. ``--dump`` writes the
run's outbox (notice ids and bodies) and relocations as JSON, to compare two
versions of the code.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "postgresql://postgres@127.0.0.1:5432"
PG_DB = "sanqing_profile"


class Steps:
    """CPU (process time) and wall per step of one run."""

    def __init__(self) -> None:
        self.times: dict[str, tuple[float, float]] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        c0, w0 = time.process_time(), time.perf_counter()
        yield
        self.times[name] = (time.process_time() - c0, time.perf_counter() - w0)


def plain_town(
    town: str, level: Any, steps: Steps, locale: str = "zh-CN", *, threads: bool = True
) -> dict[str, Any]:
    """``bench.county_response.plain_town`` with a clock around every step."""
    from bench.plain import move_at_once_plain
    from sanqing import reporting, response
    from sanqing.db import session_scope
    from sanqing.outbox import notices
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry, find_town

    plan = load_plan("flood")
    phase = plan.level(level).inspection_phases[0]
    with steps.step("activate"):
        ensure_registry(town)
        with session_scope() as s:
            act = response.activate_plan(
                session=s,
                town=find_town(s, town),
                plan=plan,
                level=level,
                warning=None,
                drill=False,
            )
    aid, villages = act.activation_id, act.village_codes
    groups = response.village_groups(villages)

    def per_village(step: Callable[[Any, str], Any]) -> list[Any]:
        def one(group: list[str]) -> Any:
            out = []
            for code in group:
                with session_scope() as s:
                    out.append(step(s, code))
            return out

        if not threads:  # cProfile sees the calling thread only
            return [one(group) for group in groups]
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            return list(pool.map(one, groups))

    with steps.step("inspect"):
        per_village(
            lambda s, v: response.inspect_hazards(
                session=s, activation_id=aid, village_code=v, phase=phase, plan=plan,
                findings={}, drill=False,
            )
        )  # fmt: skip
    with steps.step("urgent"):  # 三个紧急撤离 before the approval (at night: danger zones)
        move_at_once_plain(aid, villages, plan, locale, per_village)
    with steps.step("approval"), session_scope() as s:
        req = response.request_approval(s, activation_id=aid, plan=plan)
        if req is not None:
            response.decide_approval(
                s, approval_id=req.approval_id, answer=None, on_timeout=req.on_timeout,
                unattended=True,
            )  # fmt: skip
    with steps.step("relocate"):
        per_village(
            lambda s, v: response.plan_relocations(
                session=s, activation_id=aid, village_code=v, plan=plan
            )
        )
    with steps.step("shelters"), session_scope() as s:
        response.assign_town_shelters(session=s, activation_id=aid, plan=plan)
    with steps.step("notices"):
        per_village(
            lambda s, v: notices.issue_notices(
                session=s, activation_id=aid, village_code=v, plan=plan, locale=locale
            )
        )
    with steps.step("roads"), session_scope() as s:
        response.clear_roads(session=s, activation_id=aid, reports=[], plan=plan)
    with steps.step("report"), session_scope() as s:
        reporting.report_upward(session=s, activation_id=aid, plan=plan, locale=locale)
    with steps.step("summary"), session_scope() as s:
        return reporting.summarize(session=s, activation_id=aid)


def use_database(url: str, data_dir: Path) -> None:
    from sanqing import db
    from sanqing.settings import get_settings

    os.environ["SANQING_DATABASE_URL"] = url
    os.environ["SANQING_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    db.reset_engines()
    db.init_db()


def dump_run_state() -> dict[str, Any]:
    """The outbox (ids and bodies) and the relocations, in key order."""
    from sqlmodel import select

    from sanqing.db import session_scope
    from sanqing.models import Notice, Relocation

    with session_scope() as s:
        notices = [
            {"id": n.id, "subject": n.subject, "body": n.body, "payload": n.payload}
            for n in s.exec(select(Notice).order_by(Notice.id))  # type: ignore[arg-type]
        ]
        relocations = [
            r.model_dump(mode="json", exclude={"ordered_at", "updated_at", "removed_at"})
            for r in s.exec(select(Relocation))
        ]
    relocations.sort(key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False))
    return {"notices": notices, "relocations": relocations}


#: Times that differ between two runs of the same code: the wall clock at activation.
_TIMES = (
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"), "<ISO>"),
    (re.compile(r"\d{4}年\d{1,2}月\d{1,2}日(\d{1,2}时\d\d分)?"), "<时间>"),
)


def _timeless(text: str) -> str:
    for pattern, placeholder in _TIMES:
        text = pattern.sub(placeholder, text)
    return text


def measure(
    name: str, url: str, town_dir: Path, tmp: Path, args: argparse.Namespace
) -> dict[str, Any]:
    from sanqing.db import session_scope
    from sanqing.plans import Level
    from sanqing.registry import load_town_dir

    use_database(url, tmp / f"data-{name}")
    with session_scope() as s:
        report = load_town_dir(s, town_dir)
        report.raise_for_problems()
    town, level = report.town_code, Level(args.level)

    runs: list[Steps] = []
    for _ in range(args.runs):
        reset_run_state()
        steps = Steps()
        c0, w0 = time.process_time(), time.perf_counter()
        plain_town(town, level, steps)
        steps.times["TOTAL"] = (time.process_time() - c0, time.perf_counter() - w0)
        runs.append(steps)
    if args.dump:
        path = Path(f"{args.dump}.{name}.json")
        text = json.dumps(
            dump_run_state(), ensure_ascii=False, indent=1, default=str, sort_keys=True
        )
        path.write_text(_timeless(text))
        print(f"dumped to {path}", file=sys.stderr)
    out: dict[str, Any] = {
        step: {
            "cpu_s": round(statistics.median(r.times[step][0] for r in runs), 3),
            "wall_s": round(statistics.median(r.times[step][1] for r in runs), 3),
        }
        for step in runs[0].times
    }
    if args.profile:
        reset_run_state()
        prof = cProfile.Profile(time.process_time)  # CPU, not the wait on the socket
        prof.enable()
        plain_town(town, level, Steps(), threads=False)
        prof.disable()
        if args.pstats:
            prof.dump_stats(f"{args.pstats}.{name}")
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
        print(f"--- profile ({name}) ---\n{text.getvalue()}", file=sys.stderr)
    return out


def reset_run_state() -> None:
    """Empty the tables a response writes (the activation and every row naming one)."""
    from sqlmodel import SQLModel

    from sanqing.db import get_engine

    tables = [
        t
        for t in reversed(SQLModel.metadata.sorted_tables)
        if t.name == "activation" or "activation_id" in t.columns
    ]
    with get_engine().begin() as conn:
        for table in tables:
            conn.execute(table.delete())


def recreate_pg(drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{PG_DB}"')


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--level", default="I")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--pstats", help="with --profile: also write the stats to PSTATS.<db>")
    p.add_argument("--dump", help="write the outbox and relocations to DUMP.<db>.json")
    p.add_argument("--at", choices=("night", "day"), default="night", help="the town's hour")
    args = p.parse_args(argv)

    from bench.county_response import fix_the_hour
    from bench.samplegen import generate_county

    fix_the_hour(args.at)
    from sanqing import db

    tmp = Path(tempfile.mkdtemp(prefix="sanqing-profile-"))
    result: dict[str, Any] = {"level": args.level, "runs": args.runs}
    try:
        (town_dir,) = generate_county(tmp / "towns", towns=1)
        if args.db in ("sqlite", "both"):
            url = f"sqlite:///{tmp / 'app.db'}"
            result["sqlite"] = measure("sqlite", url, town_dir, tmp, args)
        if args.db in ("postgresql", "both"):
            recreate_pg()
            try:
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
                result["postgresql"] = measure("postgresql", url, town_dir, tmp, args)
            finally:
                db.reset_engines()
                recreate_pg(drop_only=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in ("sqlite", "postgresql"):
        if name in result:
            print(f"{name}: " + "  ".join(
                f"{k} {v['cpu_s']:.3f}/{v['wall_s']:.3f}" for k, v in result[name].items()
            ), file=sys.stderr)  # fmt: skip
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
