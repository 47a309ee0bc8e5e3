"""What a village plan says of places and of the people at risk in them.

Hazard points with their monitor, signal, route and how many households and people
each threatens (danger and alert zones); shelters with their places, the share an
epidemic leaves of them, and whether they hold everyone threatened (a shortfall is
printed, never hidden); the evacuation routes; the special groups (特殊群体) as
counts and, for their 包保责任人, each household by its head's name and group (社)
only: never an ID number, a phone or an address.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sanqing.labels import group_order, label
from sanqing.models import Village, Zone
from sanqing.outbox.cards import person
from sanqing.plandoc.book import SPECIAL_GROUPS, HouseholdFacts, TownBook


def _count(book: TownBook, codes: set[str]) -> dict[str, int]:
    found = [book.households[c] for c in codes if c in book.households]
    return {"households": len(codes), "people": sum(h.members for h in found)}


def hazards(book: TownBook, village: Village, locale: str) -> dict[str, Any]:
    """The village's hazard points and the households they threaten, per zone and in all."""
    rows = []
    everyone: dict[Zone, set[str]] = defaultdict(set)
    for hp in book.hazards.get(village.code, []):
        zones: dict[Zone, set[str]] = defaultdict(set)
        for household, zone in book.threats.get(hp.code, []):
            zones[zone].add(household)
            everyone[zone].add(household)
        monitor = book.cadre(hp.monitor_cadre_code)
        rows.append(
            {
                "code": hp.code,
                "name": hp.name,
                "kind": label(locale, "hazard_kind", hp.kind),
                "risk": label(locale, "risk", hp.risk),
                "description": hp.description,
                "monitor": person(monitor, locale) if monitor else None,
                "warning_signal": hp.warning_signal,
                "evacuation_route": hp.evacuation_route,
                "danger": _count(book, zones[Zone.DANGER]),
                "alert": _count(book, zones[Zone.ALERT]),
            }
        )
    # A household in one hazard's danger zone and another's alert zone counts as danger.
    alert_only = everyone[Zone.ALERT] - everyone[Zone.DANGER]
    return {
        "hazards": rows,
        "danger": _count(book, everyone[Zone.DANGER]),
        "alert": _count(book, alert_only),
        "threatened": _count(book, everyone[Zone.DANGER] | alert_only),
    }


def shelters(
    book: TownBook, village: Village, *, threatened_people: int, spacing: float, locale: str
) -> dict[str, Any]:
    """The village's shelters: places, places in an epidemic (spacing), isolation places."""
    rows: list[dict[str, Any]] = []
    for s in book.shelters.get(village.code, []):
        manager = book.cadre(s.manager_cadre_code)
        rows.append(
            {
                "code": s.code,
                "name": s.name,
                "kind": s.kind,
                "capacity": s.capacity,
                "capacity_epidemic": math.floor(s.capacity * spacing),
                # Shelters gain isolation places with the epidemic plan (issue 12).
                "isolation_places": int(getattr(s, "isolation_places", 0) or 0),
                "manager": person(manager, locale) if manager else None,
            }
        )
    capacity = sum(r["capacity"] for r in rows)
    return {
        "shelters": rows,
        "capacity": capacity,
        "capacity_epidemic": sum(r["capacity_epidemic"] for r in rows),
        "isolation_places": sum(r["isolation_places"] for r in rows),
        "spacing_percent": round(spacing * 100),
        "shortfall": max(0, threatened_people - capacity),
    }


def routes(hazard_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each evacuation route once, with the hazard points it leads away from."""
    by_route: dict[str, list[str]] = {}
    for h in hazard_rows:
        by_route.setdefault(h["evacuation_route"], []).append(h["name"])
    return [{"route": r, "hazards": names} for r, names in by_route.items()]


def special_groups(book: TownBook, households: list[HouseholdFacts], locale: str) -> dict[str, Any]:
    """Counts per special group, and each such household with its 包保责任人 (name and group only)."""
    marked = sorted(
        (h for h in households if h.groups), key=lambda h: (group_order(h.group_name), h.code)
    )
    counts = [
        {
            "code": g,
            "label": label(locale, "vulnerability", g),
            "households": sum(1 for h in marked if g in h.groups),
            "people": sum(h.members for h in marked if g in h.groups),
        }
        for g in SPECIAL_GROUPS
    ]
    rows = []
    for h in marked:
        cadre = book.cadre(h.responsible_cadre_code)
        rows.append(
            {
                "group": h.group_name,
                "head_name": h.head_name,
                "kinds": [label(locale, "vulnerability", g) for g in h.groups],
                "responsible": person(cadre, locale) if cadre else None,
            }
        )
    return {
        "counts": counts,
        "households": rows,
        "without_responsible": sum(1 for r in rows if r["responsible"] is None),
    }
