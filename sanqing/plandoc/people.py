"""Who a village plan names: its mixed group and leader, its grids, its 24-hour duty.

The mixed group (混合编组) is the village's assistance team (驻村工作队: its first
secretary and members) with the village's 两委 cadres; its leader is the first
secretary, else the first village cadre by code. Cadres are officials: their name,
title and work phone are printed. The duty section runs the plan's own roster rule
over the group, so a village with too few people for its points says how many
hours stay uncovered instead of printing a duty it cannot keep.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sanqing.epidemic.plan import EpidemicPlan
from sanqing.labels import group_order
from sanqing.models import Cadre, CadreRole, Level, Village
from sanqing.outbox.cards import person
from sanqing.plandoc.book import HouseholdFacts, TownBook
from sanqing.rules.roster import plan_roster
from sanqing.settings import get_settings

#: Who joins the mixed group, in the order the plan lists them after the leader.
GROUP_ROLES = (CadreRole.FIRST_SECRETARY, CadreRole.TEAM_MEMBER, CadreRole.VILLAGE_CADRE)


def mixed_group(book: TownBook, village: Village, locale: str) -> dict[str, Any]:
    """The village's 防控工作领导小组: the team, its leader and members, the town's leaders."""
    cadres = book.village_cadres(village.code)
    teams = book.teams.get(village.code, [])
    team_codes = {t.code for t in teams}
    members = [
        c
        for role in GROUP_ROLES
        for c in cadres
        if c.role == role or (role == CadreRole.TEAM_MEMBER and _extra_team_member(c, team_codes))
    ]
    leader = next((c for c in members if c.role == CadreRole.FIRST_SECRETARY), None) or next(
        (c for c in members if c.role == CadreRole.VILLAGE_CADRE), None
    )
    ordered = ([leader] if leader else []) + [c for c in members if c is not leader]
    town_leaders = sorted(
        (c for c in book.cadres.values() if c.village_code is None),
        key=lambda c: c.code,
    )
    return {
        "teams": [{"code": t.code, "name": t.name, "sent_by": t.sent_by} for t in teams],
        "leader": person(leader, locale) if leader else None,
        "members": [person(c, locale) | {"leads": c is leader} for c in ordered],
        "town_leaders": [person(c, locale) for c in town_leaders],
    }


def _extra_team_member(c: Cadre, team_codes: set[str]) -> bool:
    """A cadre of the team whose role is another one (a 社长 sent by the unit, say)."""
    return c.team_code in team_codes and c.role not in GROUP_ROLES


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


def duty(plan: EpidemicPlan, people: list[str], *, day: datetime) -> dict[str, Any]:
    """The points each level staffs around the clock, the duty rules, and what the group covers.

    One point of each kind the level names, staffed for one day from local midnight
    by the mixed group under the plan's rules; the hours nobody may take are reported.
    """
    zone = ZoneInfo(get_settings().timezone)
    start = datetime.combine(day.astimezone(zone).date(), time(0), tzinfo=zone)
    rules = plan.duty.rules()
    levels = []
    for level in Level:
        lv = plan.levels[level]
        roster = plan_roster(lv.points, people, start=start, hours=24, rules=rules)
        levels.append(
            {
                "level": level.value,
                "name": lv.name,
                "points": list(lv.points),
                "followup_every_hours": lv.followup_every_hours,
                "shifts": len(roster.shifts),
                "uncovered_hours": _number(round(roster.uncovered_hours, 1)),
                "people_on_duty": len(roster.hours_by_person()),
            }
        )
    return {
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
