"""两卡: the household 避险明白卡 and the cadres' 工作明白卡, from the registry.

Cards are handed out before the flood season (``sanqing cards`` prints them all);
a response prints again only the household cards the registry says are missing
(``households.csv`` column ``card_issued``). Both use the same context, built here
from one load of the town's ledger (``CardBook``), so a card printed in May and one
printed during the rain say the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from sanqing.geo import distance_km
from sanqing.labels import group_order, label
from sanqing.models import (
    Cadre,
    CadreRole,
    HazardKind,
    HazardPoint,
    HazardThreat,
    Household,
    SafetyRating,
    Shelter,
    Town,
    Village,
    utcnow,
)
from sanqing.outbox.rendering import render
from sanqing.paths import inside
from sanqing.plans import Plan

#: Which card a hazard calls for: geological hazards first, then flash floods, then houses.
GEOLOGICAL = frozenset(
    {HazardKind.LANDSLIDE, HazardKind.COLLAPSE, HazardKind.DEBRIS_FLOW, HazardKind.ROCKFALL_ROAD}
)
FLASH_FLOOD = frozenset({HazardKind.RIVER_CHANNEL, HazardKind.WATERLOGGING_ROAD})
#: House ratings that get a 危房 card even outside any hazard zone.
UNSAFE_RATINGS = frozenset({SafetyRating.C, SafetyRating.D})
#: The village cadre who gives the order to sound the warning signal (预警信号发布人).
SIGNAL_ISSUER_TITLE = "村委会主任"

BLANK_PERSON: dict[str, str] = {"code": "", "name": "", "phone": "", "title": "", "role": ""}


def person(c: Cadre | None, locale: str) -> dict[str, str]:
    """A cadre as card context; ``None`` gives blanks."""
    if c is None:
        return dict(BLANK_PERSON)
    return {
        "code": c.code,
        "name": c.name,
        "phone": c.phone,
        "title": c.title,
        "role": label(locale, "role", c.role),
    }


def card_kind(hazard_kinds: list[str]) -> str:
    """``geological`` / ``flash_flood`` / ``house``: what the household card is titled for."""
    if any(k in GEOLOGICAL for k in hazard_kinds):
        return "geological"
    if any(k in FLASH_FLOOD for k in hazard_kinds):
        return "flash_flood"
    return "house"


@dataclass
class CardBook:
    """What the cards of a town (or of one village) are made from, loaded once."""

    town: Town
    villages: dict[str, Village]
    households: dict[str, Household]
    cadres: dict[str, Cadre]
    shelters: dict[str, Shelter]
    hazards: dict[str, HazardPoint]
    #: household code → [(hazard code, zone)], hazard codes in order
    threats: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _issuers: dict[str, Cadre | None] = field(default_factory=dict, repr=False, compare=False)

    def cadre(self, code: str | None) -> Cadre | None:
        return self.cadres.get(code or "")

    def holders(self) -> list[Household]:
        """Households that hold a 避险明白卡: in a hazard zone, or in a C/D-rated house."""
        return [
            h
            for code, h in sorted(self.households.items())
            if self.threats.get(code) or h.safety_rating in UNSAFE_RATINGS
        ]

    def signal_issuer(self, village_code: str) -> Cadre | None:
        if village_code not in self._issuers:  # every card names it: looked up once
            issuers = (
                c
                for c in sorted(self.cadres.values(), key=lambda c: c.code)
                if c.village_code == village_code
                and c.role == CadreRole.VILLAGE_CADRE
                and c.title.endswith(SIGNAL_ISSUER_TITLE)
            )
            self._issuers[village_code] = next(issuers, None)
        return self._issuers[village_code]

    def nearest_shelter(self, h: Household) -> Shelter | None:
        """The planned shelter before any response: the nearest of the village, else the town."""
        own = [s for s in self.shelters.values() if s.village_code == h.village_code]
        pool = own or list(self.shelters.values())
        if not pool:
            return None
        return min(pool, key=lambda s: (distance_km(h.lat, h.lon, s.lat, s.lon), s.code))


def load_book(session: Session, *, town_code: str, village_code: str | None = None) -> CardBook:
    """Load what the cards of a town (or one of its villages) need."""
    town = session.get(Town, town_code)
    if town is None:
        raise LookupError(f"town {town_code} is not in the registry; run `sanqing init` first")
    villages = {
        v.code: v for v in session.exec(select(Village).where(Village.town_code == town_code))
    }
    codes = [village_code] if village_code else list(villages)
    households = {
        h.code: h
        for h in session.exec(select(Household).where(col(Household.village_code).in_(codes)))
    }
    hazards = {
        h.code: h
        for h in session.exec(select(HazardPoint).where(col(HazardPoint.village_code).in_(codes)))
    }
    threats = read_threats(session, list(households))
    missing = {c for ts in threats.values() for c, _ in ts} - set(hazards)
    hazards.update(read_hazards(session, missing))
    return CardBook(
        town=town,
        villages=villages,
        households=households,
        cadres={c.code: c for c in session.exec(select(Cadre).where(Cadre.town_code == town_code))},
        shelters={
            s.code: s for s in session.exec(select(Shelter).where(Shelter.town_code == town_code))
        },
        hazards=hazards,
        threats=dict(threats),
    )


def read_threats(session: Session, household_codes: list[str]) -> dict[str, list[tuple[str, str]]]:
    """household code → [(hazard code, zone)] of the households, hazard codes in order."""
    threats: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for household, hazard, zone in session.execute(
        select(HazardThreat.household_code, HazardThreat.hazard_code, HazardThreat.zone)
        .where(col(HazardThreat.household_code).in_(household_codes))
        .order_by(col(HazardThreat.household_code), col(HazardThreat.hazard_code))
    ):
        threats[household].append((hazard, zone))
    return dict(threats)


def read_hazards(session: Session, codes: set[str]) -> dict[str, HazardPoint]:
    """The hazard points of ``codes`` by code (none read when there are none)."""
    if not codes:
        return {}
    return {
        h.code: h for h in session.exec(select(HazardPoint).where(col(HazardPoint.code).in_(codes)))
    }


def shelter_context(book: CardBook, s: Shelter | None, locale: str) -> dict[str, Any] | None:
    """A shelter with its 负责人 (name and phone)."""
    if s is None:
        return None
    return {
        "code": s.code,
        "name": s.name,
        "kind": s.kind,
        "village": s.village_code,
        "manager": person(book.cadre(s.manager_cadre_code), locale),
    }


def town_context(town: Town) -> dict[str, Any]:
    """The town as notices and cards name it: office, duty phone and its 救护单位."""
    return {
        "name": town.name,
        "county": town.county,
        "office": town.office,
        "duty_phone": town.duty_phone,
        "medical": {"name": town.medical_unit or "", "phone": town.medical_unit_phone or ""},
    }


def hazard_context(book: CardBook, code: str, zone: str | None, locale: str) -> dict[str, Any]:
    """A hazard point as a household sees it: kind, its zone for them, signal, route, monitor."""
    h = book.hazards[code]
    return {
        "code": h.code,
        "name": h.name,
        "kind": label(locale, "hazard_kind", h.kind),
        "kind_code": h.kind,
        "risk": label(locale, "risk", h.risk),
        "zone": label(locale, "zone", zone) if zone else "",
        "zone_code": zone or "",
        "warning_signal": h.warning_signal,
        "evacuation_route": h.evacuation_route,
        "monitor": person(book.cadre(h.monitor_cadre_code), locale),
    }


def household_card(
    book: CardBook,
    h: Household,
    *,
    locale: str,
    shelter: Shelter | None = None,
    hazard_codes: list[str] | None = None,
    cadre_code: str | None = None,
    isolation: bool = False,
) -> dict[str, Any]:
    """The 避险明白卡 of one household (``card`` in ``notices/card.html``).

    Outside a response the shelter is the nearest one; in a response, the one the
    household was sent to (and the hazards that moved it).
    """
    zones = dict(book.threats.get(h.code, []))
    codes = hazard_codes if hazard_codes is not None else list(zones)
    hazards = [hazard_context(book, c, zones.get(c), locale) for c in codes if c in book.hazards]
    kinds = [x["kind_code"] for x in hazards]
    monitors = [x["monitor"] for x in hazards if x["monitor"]["name"]]
    responsible = person(book.cadre(cadre_code or h.responsible_cadre_code), locale)
    issuer = book.signal_issuer(h.village_code)
    village = book.villages.get(h.village_code)
    return {
        "no": h.code,
        "kind": card_kind(kinds),
        "head_name": h.head_name,
        "members": h.members,
        "village": village.name if village else "",
        "group": h.group_name,
        "address": h.address,
        "house_type": h.house_type,
        "safety_rating": h.safety_rating,
        "house_unsafe": h.safety_rating in UNSAFE_RATINGS,
        "hazards": hazards,
        "monitor": monitors[0] if monitors else responsible,
        "signal_issuer": person(issuer, locale)
        if issuer
        else (monitors[0] if monitors else responsible),
        "warning_signals": list(dict.fromkeys(x["warning_signal"] for x in hazards)),
        "shelter": shelter_context(book, shelter or book.nearest_shelter(h), locale),
        "cadre": responsible,
        "isolation": isolation,  # 三情叠加: its place is an isolation room
    }


def monitor_cards(book: CardBook, *, plan: Plan, locale: str) -> list[dict[str, Any]]:
    """The 工作明白卡 of each monitor (监测人): points, what to check, signal, whom to call."""
    by_monitor: dict[str, list[HazardPoint]] = defaultdict(list)
    for hp in sorted(book.hazards.values(), key=lambda x: x.code):
        if hp.monitor_cadre_code and hp.village_code in book.villages:
            by_monitor[hp.monitor_cadre_code].append(hp)
    threatened: dict[str, list[Household]] = defaultdict(list)
    for hcode, ts in sorted(book.threats.items()):
        for code, _ in ts:
            if hcode in book.households:
                threatened[code].append(book.households[hcode])
    cards = []
    for cadre_code, points in sorted(by_monitor.items()):
        c = book.cadre(cadre_code)
        village_code = points[0].village_code
        cards.append(
            {
                "role": "monitor",
                "cadre": person(c, locale),
                "village": book.villages[village_code].name,
                "points": [
                    {
                        **hazard_context(book, p.code, None, locale),
                        "checklist": list(plan.checklists.get(HazardKind(p.kind), [])),
                        "households": len(threatened[p.code]),
                        "people": sum(h.members for h in threatened[p.code]),
                    }
                    for p in points
                ],
                "signal_issuer": person(book.signal_issuer(village_code), locale),
                "first_secretary": person(_first_secretary(book, village_code), locale),
            }
        )
    return cards


def responsible_cards(
    book: CardBook, *, locale: str, holders: list[Household] | None = None
) -> list[dict[str, Any]]:
    """The 工作明白卡 of each 包保责任人: their card households, shelters and routes."""
    by_cadre: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for h in holders if holders is not None else book.holders():
        if h.responsible_cadre_code:
            by_cadre[h.responsible_cadre_code].append(household_card(book, h, locale=locale))
    cards = []
    for cadre_code, households in sorted(by_cadre.items()):
        c = book.cadre(cadre_code)
        households.sort(key=lambda x: (group_order(x["group"]), x["no"]))
        shelters = {x["shelter"]["code"]: x["shelter"] for x in households if x["shelter"]}
        routes = sorted({hz["evacuation_route"] for x in households for hz in x["hazards"]})
        village_code = c.village_code if c and c.village_code else households[0]["no"][:12]
        cards.append(
            {
                "role": "responsible",
                "cadre": person(c, locale),
                "village": book.villages[village_code].name
                if village_code in book.villages
                else "",
                "households": households,
                "people": sum(x["members"] for x in households),
                "shelters": [shelters[k] for k in sorted(shelters)],
                "routes": routes,
                "first_secretary": person(_first_secretary(book, village_code), locale),
            }
        )
    return cards


def _first_secretary(book: CardBook, village_code: str) -> Cadre | None:
    return next(
        (
            c
            for c in sorted(book.cadres.values(), key=lambda c: c.code)
            if c.village_code == village_code and c.role == CadreRole.FIRST_SECRETARY
        ),
        None,
    )


@dataclass
class CardsPrinted:
    """What ``print_cards`` wrote: counts per kind and the folder."""

    out_dir: Path
    households: int = 0
    missing: int = 0  # household cards the registry says were not handed out yet
    monitors: int = 0
    responsible: int = 0
    files: list[Path] = field(default_factory=list)


def print_cards(
    session: Session,
    *,
    town_code: str,
    plan: Plan,
    out_dir: Path,
    locale: str,
    now: datetime | None = None,
) -> CardsPrinted:
    """Write every card of a town under ``out_dir`` (before the flood season).

    Layout: ``household/<村>/<户编号>-<户主>.html``, ``monitor/<村>-<姓名>-<编号>.html``
    and ``responsible/<村>-<姓名>-<编号>.html``; every name goes through
    ``sanqing.paths.inside``.
    """
    now = now or utcnow()
    book = load_book(session, town_code=town_code)
    common = {"drill": False, "town": town_context(book.town), "issued_on": now}
    done = CardsPrinted(out_dir=out_dir)

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.files.append(path)

    holders = book.holders()
    for h in holders:
        card = household_card(book, h, locale=locale)
        village = book.villages[h.village_code].name
        write(
            inside(out_dir, "household", village, f"{h.code}-{h.head_name}", suffix=".html"),
            render("notices/card.html", locale=locale, card=card, **common),
        )
        done.households += 1
        done.missing += 0 if h.card_issued else 1
    monitors = monitor_cards(book, plan=plan, locale=locale)
    responsible = responsible_cards(book, locale=locale, holders=holders)
    done.monitors, done.responsible = len(monitors), len(responsible)
    for kind, cards in (("monitor", monitors), ("responsible", responsible)):
        for wc in cards:
            who = wc["cadre"]
            write(
                inside(
                    out_dir, kind, f"{wc['village']}-{who['name']}-{who['code']}", suffix=".html"
                ),
                render("notices/work_card.html", locale=locale, card=wc, **common),
            )
    return done
