"""What-if before the rain (预演): who would move, shelter shortfall, machinery and cadre load.

The plan's own steps run, as a response would run them, against a scratch SQLite
database in a temporary folder that holds the town's registry read from its ledgers,
in a process of their own (``python -m sanqing.whatif``): the app database is never
opened, nothing is sent, nothing written outside the folder, which is deleted
afterwards. Before the rain nobody has inspected anything: no danger is found, the
commander approves, and the figures are the plan's scope for the level.

What it cannot know: epidemic registrations and answers recorded in the app database
(the flood's 三情叠加 isolation needs), and an activation already running.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sanqing.errors import SanqingError
from sanqing.models import Level
from sanqing.settings import get_settings

#: How long the scratch run may take before it is given up (a town is a few seconds).
TIMEOUT_S = 300


def what_if(
    town: str,
    *,
    level: Level | None = None,
    warning: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The what-if figures of ``town`` at ``level`` or under the warning document ``warning``.

    ``at``: the time the response would start (day and night differ: danger zones
    move at once at night); default now.

    Runs in a process of its own on a scratch database; raises ``SanqingError`` with
    that process's one-line reason when it refuses (unknown town, unreadable warning).
    """
    if (level is None) == (warning is None):
        raise SanqingError("what-if needs --level or --warning (one of them)")
    settings = get_settings()
    args = [sys.executable, "-m", "sanqing.whatif", "--town", town]
    if level is not None:
        args += ["--level", Level(level).value]
    if warning is not None:  # a file: its absolute path, as the scratch process has its own cwd
        args += ["--warning", str(Path(warning).resolve()) if Path(warning).exists() else warning]
    if at is not None:
        args += ["--at", at.isoformat()]
    with tempfile.TemporaryDirectory(prefix="sanqing-whatif-") as scratch:
        env = os.environ | {
            "SANQING_DATABASE_URL": f"sqlite:///{Path(scratch) / 'whatif.db'}",
            "SANQING_DATA_DIR": scratch,
            "SANQING_CONFIG_DIR": str(settings.config_dir),
            "SANQING_TEMPLATES_DIR": str(settings.templates_dir),
        }
        try:
            done = subprocess.run(
                args, env=env, cwd=scratch, capture_output=True, text=True, timeout=TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            raise SanqingError(f"what-if for {town} took longer than {TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise SanqingError(lines[-1] if lines else f"what-if for {town} failed")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def simulate(
    town: str, *, level: Level | None, warning: str | None, at: datetime | None = None
) -> dict[str, Any]:
    """Run the plan's steps up to the shelters on the configured (scratch) database."""
    from sanqing import response
    from sanqing.db import init_db, session_scope
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry, find_town

    plan = load_plan()
    init_db()
    town_code = ensure_registry(town)
    info = None
    if warning is not None:
        info, level = _warning(warning, town_code, plan)
    assert level is not None
    with session_scope() as s:
        act = response.activate_plan(
            session=s,
            town=find_town(s, town_code),
            plan=plan,
            level=level,
            warning=info,
            drill=False,
            now=at,
        )
    aid = act.activation_id
    if at is not None:  # the scratch activation runs on that time, as a drill on its own
        _set_clock(aid, at)
    phase = plan.level(level).inspection_phases[0]
    for v in act.village_codes:
        with session_scope() as s:
            response.inspect_hazards(
                session=s,
                activation_id=aid,
                village_code=v,
                phase=phase,
                plan=plan,
                findings={},
                drill=False,
            )
    _approve(aid, plan)
    for v in act.village_codes:
        with session_scope() as s:
            response.plan_relocations(session=s, activation_id=aid, village_code=v, plan=plan)
    with session_scope() as s:
        response.assign_town_shelters(session=s, activation_id=aid, plan=plan)
    with session_scope() as s:
        out = figures(s, aid, plan, warning=info.identifier if info else None)
    return out | {"at": at.isoformat() if at else None}


def _set_clock(activation_id: str, at: datetime) -> None:
    from sanqing.db import session_scope
    from sanqing.models import Activation, utcnow

    with session_scope() as s:
        act = s.get(Activation, activation_id)
        assert act is not None
        act.clock_offset_s = (at - utcnow()).total_seconds()
        s.add(act)


def _warning(source: str, town_code: str, plan: Any) -> tuple[Any, Level]:
    """The warning's information for the town and the level the plan gives it."""
    from sanqing.feeds.document import flood_warning_in, villages_of_town
    from sanqing.feeds.watch import warning_info

    d = flood_warning_in(source, as_sent=True)
    assert d.warning is not None
    villages = villages_of_town(source, d, town_code)
    info = warning_info(d.warning, d.decision).model_copy(update={"village_codes": villages})
    return info, plan.level_for_warning(info.hazard, info.colour)


def _approve(activation_id: str, plan: Any) -> None:
    """The commander approves (what-if asks what the plan moves when it is approved)."""
    from sanqing import response
    from sanqing.answers import ApprovalAnswer
    from sanqing.db import session_scope

    with session_scope() as s:
        req = response.request_approval(s, activation_id=activation_id, plan=plan)
        if req is not None:
            response.decide_approval(
                s,
                approval_id=req.approval_id,
                answer=ApprovalAnswer(approve=True, name="预演", remarks=""),
                on_timeout=req.on_timeout,
            )


def figures(session: Any, activation_id: str, plan: Any, *, warning: str | None) -> dict[str, Any]:
    """Who would move (per village, the vulnerable first), shelters, cadres and machinery."""
    from sqlmodel import select

    from sanqing.models import Activation, Cadre, Machine, Relocation, RoadSegment, Shelter, Town

    act = session.get(Activation, activation_id)
    town = session.get(Town, act.town_code)
    rels = list(session.exec(select(Relocation).where(Relocation.activation_id == activation_id)))
    shelters = list(session.exec(select(Shelter).where(Shelter.town_code == town.code)))
    cadres = {c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == town.code))}
    machines = list(session.exec(select(Machine).where(Machine.town_code == town.code)))
    roads = list(
        session.exec(
            select(RoadSegment).where(RoadSegment.village_code.in_(act.village_codes))  # type: ignore[attr-defined]
        )
    )
    return {
        "town": town.name,
        "town_code": town.code,
        "level": act.level.value,
        "warning": warning,
        "villages": _villages(session, act.village_codes, rels),
        "households_to_move": len(rels),
        "people_to_move": sum(r.people for r in rels),
        "urgent_households": sum(1 for r in rels if r.urgent),
        "vulnerable_households": sum(1 for r in rels if r.vulnerabilities),
        "vulnerable_by_kind": dict(
            sorted(Counter(v for r in rels for v in r.vulnerabilities).items())
        ),
        "shelters": _shelters(shelters, rels),
        "shelter_shortfall_people": sum(r.people for r in rels if r.shortfall),
        "shelter_shortfall_households": sum(1 for r in rels if r.shortfall),
        "cadre_load": _cadre_load(rels, cadres, plan.defaults.max_households_per_cadre),
        "machinery": _machinery(machines, roads, plan.defaults.clearing_machinery),
    }


def _villages(session: Any, codes: list[str], rels: list[Any]) -> list[dict[str, Any]]:
    from sqlmodel import select

    from sanqing.models import Village

    names = {v.code: v.name for v in session.exec(select(Village).where(Village.code.in_(codes)))}  # type: ignore[attr-defined]
    by_village: dict[str, list[Any]] = defaultdict(list)
    for r in rels:
        by_village[r.village_code].append(r)
    return [
        {
            "code": code,
            "name": names.get(code, code),
            "households": len(by_village[code]),
            "people": sum(r.people for r in by_village[code]),
            "vulnerable_households": sum(1 for r in by_village[code] if r.vulnerabilities),
            "shortfall_people": sum(r.people for r in by_village[code] if r.shortfall),
        }
        for code in sorted(codes)
    ]


def _shelters(shelters: list[Any], rels: list[Any]) -> list[dict[str, Any]]:
    placed: dict[str, int] = defaultdict(int)
    for r in rels:
        if r.shelter_code:
            placed[r.shelter_code] += r.people
    return [
        {"code": s.code, "name": s.name, "capacity": s.capacity, "people": placed[s.code]}
        for s in sorted(shelters, key=lambda s: s.code)
        if placed[s.code]
    ]


def _cadre_load(rels: list[Any], cadres: dict[str, Any], limit: int) -> dict[str, Any]:
    """Households per cadre who would lead them (the plan's limit per cadre beside it)."""
    load = Counter(r.cadre_code for r in rels if r.cadre_code)
    counts = sorted(load.values())
    return {
        "cadres": len(load),
        "limit_per_cadre": limit,
        "median": statistics.median(counts) if counts else 0,
        "most": counts[-1] if counts else 0,
        "over_limit": sorted(code for code, n in load.items() if n > limit),
        "households_without_cadre": sum(1 for r in rels if not r.cadre_code),
        "cadres_in_town": len(cadres),
    }


def _machinery(machines: list[Any], roads: list[Any], clearing: list[str]) -> dict[str, Any]:
    """The town's clearing machinery against the road segments of the villages in scope."""
    usable = [m for m in machines if m.kind in clearing]
    return {
        "machines": len(machines),
        "clearing_machines": len(usable),
        "by_kind": dict(sorted(Counter(m.kind for m in machines).items())),
        "road_segments": len(roads),
        "segments_per_clearing_machine": round(len(roads) / len(usable), 1) if usable else None,
    }


def main(argv: list[str] | None = None) -> int:
    """The scratch process: figures as one JSON line on stdout, a refusal as one line on stderr."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m sanqing.whatif")
    p.add_argument("--town", required=True)
    p.add_argument("--level", choices=[lv.value for lv in Level])
    p.add_argument("--warning")
    p.add_argument("--at", type=datetime.fromisoformat)
    args = p.parse_args(argv)
    try:
        level = Level(args.level) if args.level else None
        out = simulate(args.town, level=level, warning=args.warning, at=args.at)
    except SanqingError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(out, ensure_ascii=False, sort_keys=True))
    return 0


def render_whatif(figs: dict[str, Any], locale: str = "zh-CN") -> str:
    """The what-if as markdown, in the township office's words (or English)."""
    from sanqing.outbox.rendering import format_time, render

    at = datetime.fromisoformat(figs["at"]) if figs.get("at") else None
    when = format_time(at, None if locale == "zh-CN" else "%Y-%m-%d %H:%M") if at else None
    return render("reports/whatif.md", locale=locale, **(figs | {"at": when}))


if __name__ == "__main__":
    raise SystemExit(main())
