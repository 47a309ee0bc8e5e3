"""The county's level-I response as plain domain calls, in the order of ``flood_response``
(the bench's PLAIN path; see ``bench/county_response.py``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any


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

    # The county flow's fan-out: a town's village step is one task (COUNTY_VILLAGE_TASKS).
    groups = response.village_groups(villages, response.COUNTY_VILLAGE_TASKS)

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
    move_at_once_plain(aid, villages, plan, locale, per_village)
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


def move_at_once_plain(
    aid: str, villages: list[str], plan: Any, locale: str, per_village: Any
) -> None:
    """flood_response's 三个紧急撤离 before the approval: danger found, cannot be judged, a
    danger zone at night (so the figures depend on the hour, on both paths alike)."""
    from sanqing import response
    from sanqing.db import session_scope
    from sanqing.outbox import notices

    with session_scope() as s:
        act = response.hold_open(s, aid)
        if act is None or not response.approval_needed(s, act=act, plan=plan):
            return
    moved = per_village(
        lambda s, v: response.plan_relocations(
            session=s, activation_id=aid, village_code=v, plan=plan, urgent_only=True
        )
    )
    moving = {r.village_code for group in moved for r in group if r.households}
    if not moving:
        return
    with session_scope() as s:
        response.assign_town_shelters(session=s, activation_id=aid, plan=plan)
    for v in sorted(moving):
        with session_scope() as s:
            notices.issue_notices(
                session=s, activation_id=aid, village_code=v, plan=plan, locale=locale
            )
    with session_scope() as s:
        response.inform_commander(s, activation_id=aid, locale=locale)


def run_plain(towns: list[str], level: Any, workers: int) -> dict[str, dict]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {t: pool.submit(plain_town, t, level) for t in towns}
    return {t: f.result() for t, f in futures.items()}


# --- the Prefect path -----------------------------------------------------------------------
