"""A village's plan document (村级疫情、汛情防控预案): its context, and the files printed.

``village_plan`` builds what ``templates/<locale>/plans/village.{html,txt}`` print
for one village from a ``TownBook``; ``print_village_plans`` reads the town once and
writes ``<village code>.html`` and ``.txt`` for each village (or one) into a folder.
File names come from codes through ``sanqing.paths.inside``, never from names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from sanqing.epidemic.plan import EpidemicPlan
from sanqing.errors import UnknownVillage
from sanqing.models import Village, utcnow
from sanqing.outbox.cards import town_context
from sanqing.outbox.rendering import render
from sanqing.paths import inside
from sanqing.plandoc.book import TownBook, load_town_book
from sanqing.plandoc.people import duty, grids, mixed_group
from sanqing.plandoc.places import hazards, routes, shelters, special_groups
from sanqing.plandoc.rides import vaccination

#: The formats a plan is printed in, each a template ``plans/village.<format>``.
FORMATS = ("html", "txt")


def village_plan(
    book: TownBook, village: Village, *, plan: EpidemicPlan, locale: str, now: datetime
) -> dict[str, Any]:
    """The template context of one village's plan, from the town's book and the plan."""
    households = book.village_households(village.code)
    group = mixed_group(book, village, locale)
    risk = hazards(book, village, locale)
    return {
        "town": town_context(book.town),
        "village": {"code": village.code, "name": village.name},
        "households": len(households),
        "people": sum(h.members for h in households),
        "group": group,
        "grids": grids(book, village, households, locale),
        "duty": duty(book, village, plan, day=now),
        "risk": risk,
        "shelters": shelters(
            book,
            village,
            threatened_people=risk["threatened"]["people"],
            spacing=plan.shelter_capacity_factor,
            locale=locale,
        ),
        "routes": routes(risk["hazards"]),
        "special": special_groups(book, households, locale),
        "vaccination": vaccination(book, households),
        "issued_on": now,
    }


def find_village(book: TownBook, village: str) -> Village:
    """The town's village with this code or name; ``UnknownVillage`` naming the town's villages."""
    for v in book.villages:
        if village in (v.code, v.name):
            return v
    names = "、".join(v.name for v in book.villages) or "none"
    raise UnknownVillage(village, f"{book.town.name}, whose villages are {names}")


@dataclass
class PlansPrinted:
    """What ``print_village_plans`` wrote: one entry a village, its files in FORMATS order."""

    out_dir: Path
    villages: list[tuple[Village, list[Path]]] = field(default_factory=list)


def print_village_plans(
    session: Session,
    *,
    town_code: str,
    plan: EpidemicPlan,
    out_dir: Path,
    locale: str,
    village: str | None = None,
    now: datetime | None = None,
) -> PlansPrinted:
    """Write each village's plan (or ``village``'s, by code or name) as HTML and text."""
    now = now or utcnow()
    book = load_town_book(session, town_code=town_code)
    chosen = [find_village(book, village)] if village is not None else book.villages
    done = PlansPrinted(out_dir=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for v in chosen:
        context = village_plan(book, v, plan=plan, locale=locale, now=now)
        files = []
        for fmt in FORMATS:
            path = inside(out_dir, v.code, suffix=f".{fmt}")
            text = render(f"plans/village.{fmt}", locale=locale, **context)
            path.write_text(text, encoding="utf-8")
            files.append(path)
        done.villages.append((v, files))
    return done
