"""Who a village plan names: its mixed group and leader, its grids, its 24-hour duty.

The mixed group (混合编组), its leader and its 包片领导 are the epidemic flow's own
(``sanqing.epidemic.groups``: the team and the 两委, led by the first secretary, else a
team member, else a village cadre), so the plan and the work arrangements the flow
sends never disagree. Cadres are officials: their name, title and work phone are
printed. The duty section lists the village's points from the town's ``epidemic.yaml``
and runs the plan's own roster rule, per level, over exactly the points the flow
staffs with the village's group; a village with too few people says how many hours
stay uncovered instead of printing a duty it cannot keep.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sanqing.epidemic.plan import EpidemicPlan
from sanqing.epidemic.resources import Point
from sanqing.labels import group_order
from sanqing.models import CadreRole, Level, Village
from sanqing.outbox.cards import person
from sanqing.plandoc.book import HouseholdFacts, TownBook
from sanqing.rules.roster import plan_roster
from sanqing.settings import get_settings


def mixed_group(book: TownBook, village: Village, locale: str) -> dict[str, Any]:
    """The village's 防控工作领导小组 as the flow forms it: team, leader, members, 包片领导."""
    group = book.groups.of_village(village.code)
    leader = group.leader if group else None
    area_leader = group.town_leader if group else None
    return {
        "teams": [
            {"code": t.code, "name": t.name, "sent_by": t.sent_by}
            for t in book.teams.get(village.code, [])
        ],
        "leader": person(leader, locale) if leader else None,
        "members": [
            person(c, locale) | {"leads": leader is not None and c.code == leader.code}
            for c in (group.members if group else [])
        ],
        "area_leader": person(area_leader, locale) if area_leader else None,
    }


def grids(
    book: TownBook, village: Village, households: list[HouseholdFacts], locale: str
) -> dict[str, Any]:
    """The village's grids with their responsible person and what each holds, and its 社长."""
    rows = []
    known = set()
    for g in book.grids.get(village.code, []):
        known.add(g.code)
        inside = [h for h in households if h.grid_code == g.code]
        responsible = book.cadre(g.responsible_cadre_code)
        rows.append(
            {
                "code": g.code,
                "name": g.name,
                "responsible": person(responsible, locale) if responsible else None,
                "groups": sorted({h.group_name for h in inside}, key=group_order),
                "households": len(inside),
                "people": sum(h.members for h in inside),
            }
        )
    outside = [h for h in households if h.grid_code not in known]
    leaders = [c for c in book.village_cadres(village.code) if c.role == CadreRole.GROUP_LEADER]
    return {
        "grids": rows,
        "ungridded": {"households": len(outside), "people": sum(h.members for h in outside)},
        "group_leaders": [person(c, locale) for c in leaders],
    }


def first_level(plan: EpidemicPlan, kind: str) -> Level | None:
    """The lowest level whose points include ``kind`` (None: no level staffs it)."""
    return next((lv for lv in Level if kind in plan.levels[lv].points), None)


def _point(plan: EpidemicPlan, p: Point) -> dict[str, Any]:
    level = first_level(plan, p.kind)
    return {
        "code": p.code,
        "name": p.name,
        "kind": p.kind,
        "place": p.place,
        "from_level": level.value if level else None,
    }


def duty(book: TownBook, village: Village, plan: EpidemicPlan, *, day: datetime) -> dict[str, Any]:
    """The village's points, the town's own, and per level what the mixed group covers.

    Per level: the village's points of the kinds the level staffs (the flow's
    ``staffed_points``), rostered for one day from local midnight over the village's
    mixed group under the plan's rules, as ``put_on_duty`` does; the hours nobody may
    take are reported. A level that staffs none of the village's points says so.
    """
    zone = ZoneInfo(get_settings().timezone)
    start = datetime.combine(day.astimezone(zone).date(), time(0), tzinfo=zone)
    group = book.groups.of_village(village.code)
    people = group.codes if group else []
    own = [p for p in book.resources.points if p.village == village.name]
    town = [p for p in book.resources.points if p.village is None]
    levels = []
    for level in Level:
        lv = plan.levels[level]
        staffed = [p for p in own if p.kind in lv.points]
        roster = plan_roster(
            [p.code for p in staffed], people, start=start, hours=24, rules=plan.duty.rules()
        )
        levels.append(
            {
                "level": level.value,
                "name": lv.name,
                "kinds": list(lv.points),
                "points": [p.name for p in staffed],
                "town_points": [p.name for p in town if p.kind in lv.points],
                "followup_every_hours": lv.followup_every_hours,
                "shifts": len(roster.shifts),
                "uncovered_hours": _number(round(roster.uncovered_hours, 1)),
                "people_on_duty": len(roster.hours_by_person()),
            }
        )
    return {
        "points": [_point(plan, p) for p in own],
        "town_points": [_point(plan, p) for p in town],
        "shift_hours": _number(plan.duty.shift_hours),
        "min_rest_hours": _number(plan.duty.min_rest_hours),
        "max_hours_per_day": _number(plan.duty.max_hours_per_day),
        "shift_starts": [
            (start + timedelta(hours=plan.duty.shift_hours * i)).strftime("%H:%M")
            for i in range(_shifts_a_day(plan.duty.shift_hours))
        ],
        "people": len(people),
        "levels": levels,
    }


def _shifts_a_day(shift_hours: float) -> int:
    n, t = 0, 0.0
    while t < 24:
        n, t = n + 1, t + shift_hours
    return n


def _number(hours: float) -> int | float:
    """8.0 → 8 in print; 7.5 stays."""
    return int(hours) if float(hours).is_integer() else hours
