"""What one village's notices are written from: read once, in the step's transaction.

The village, its households and moves, the town's shelters and cadres, the hazard
points the moves name, the card ledger, and the ids of the notices it already has
(so a re-run writes nothing twice).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import core_rows
from sanqing.models import (
    Activation,
    Cadre,
    HazardPoint,
    Household,
    Inspection,
    Notice,
    Relocation,
    Shelter,
    Town,
    Village,
)
from sanqing.outbox.cards import CardBook, read_hazards
from sanqing.response import read_rows, village_threats


@dataclass
class VillageFacts:
    """One village in one activation, as its notices need it (rows are read-only)."""

    town: Town
    village: Any
    #: ids of this village's notices already in the outbox
    written: set[str]
    #: household code → household row
    households: dict[str, Any]
    #: this activation's moves in the village, by priority then household (``MOVE_COLUMNS``)
    relocations: list[Any]
    #: shelter code → shelter row, the town's
    shelters: dict[str, Any]
    #: cadre code → cadre row, the whole town's
    cadres: dict[str, Any]
    #: the village's own hazard points, by code
    village_hazards: list[HazardPoint]
    #: those and any other hazard point a move names
    hazards: dict[str, HazardPoint]
    book: CardBook

    @cached_property
    def moving(self) -> dict[str, Any]:
        """household code → its move."""
        return {r.household_code: r for r in self.relocations}

    def moves_by_cadre(self) -> dict[str, list[Any]]:
        """cadre code → the moves that cadre answers for, in priority order."""
        by_cadre: dict[str, list[Any]] = {}
        for r in self.relocations:
            if r.cadre_code:
                by_cadre.setdefault(r.cadre_code, []).append(r)
        return by_cadre


def read_village(session: Session, *, activation: Activation, village_code: str) -> VillageFacts:
    """Read what the village's notices are written from: every table once."""
    town = session.get(Town, activation.town_code)
    assert town is not None
    villages = {v.code: v for v in read_rows(session, Village, Village.town_code == town.code)}
    village = villages.get(village_code) or session.get(Village, village_code)
    assert village is not None
    written = set(
        session.exec(
            select(Notice.id).where(
                Notice.activation_id == activation.id, Notice.village_code == village_code
            )
        )
    )
    households = {
        h.code: h for h in read_rows(session, Household, Household.village_code == village_code)
    }
    relocations = _read_moves(session, activation.id, village_code)
    shelters = {s.code: s for s in read_rows(session, Shelter, Shelter.town_code == town.code)}
    cadres = {c.code: c for c in read_rows(session, Cadre, Cadre.town_code == town.code)}
    threats = _read_threats(session, village_code)
    village_hazards, hazards, book_hazards = _read_hazards(
        session, village_code, relocations, threats
    )
    return VillageFacts(
        town=town,
        village=village,
        written=written,
        households=households,
        relocations=relocations,
        shelters=shelters,
        cadres=cadres,
        village_hazards=village_hazards,
        hazards=hazards,
        # The card book of the village, from the same rows (``cards.load_book``'s).
        book=CardBook(
            town=town,
            villages=villages,
            households=households,
            cadres=cadres,
            shelters=shelters,
            hazards=book_hazards,
            threats=threats,
        ),
    )


#: What the notices read of a move: not its times and who changed it (rows read faster).
MOVE_COLUMNS = (
    "household_code", "people", "zone", "hazard_codes", "reasons", "vulnerabilities",
    "priority", "cadre_code", "shelter_code", "shortfall", "isolation",
)  # fmt: skip


def _read_moves(session: Session, activation_id: str, village_code: str) -> list[Any]:
    """This activation's moves in the village, by priority then household (``MOVE_COLUMNS``)."""
    table = Relocation.__table__  # type: ignore[attr-defined]
    return core_rows(
        session,
        select(*(table.c[name] for name in MOVE_COLUMNS))
        .where(table.c.activation_id == activation_id, table.c.village_code == village_code)
        .order_by(table.c.priority, table.c.household_code),
    )


def _read_threats(session: Session, village_code: str) -> dict[str, list[tuple[str, str]]]:
    """``cards.read_threats`` of the village's households: the same rows in the same order,
    read the way the relocation step reads them (``village_threats``: one parameter, and
    on PostgreSQL the threats' index rather than a scan of the county's table)."""
    threats: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for t in village_threats(session, village_code):
        threats[t.household_code].append((t.hazard_code, t.zone))
    return dict(threats)


def _read_hazards(
    session: Session,
    village_code: str,
    relocations: list[Any],
    threats: dict[str, list[tuple[str, str]]],
) -> tuple[list[HazardPoint], dict[str, HazardPoint], dict[str, HazardPoint]]:
    """The village's hazard points; by code, those plus any other a move names, and those
    plus any other that threatens one of its households (the card book's)."""
    village_hazards = list(
        session.exec(
            select(HazardPoint)
            .where(HazardPoint.village_code == village_code)
            .order_by(col(HazardPoint.code))
        )
    )
    own = {h.code: h for h in village_hazards}
    named = {code for r in relocations for code in r.hazard_codes} - set(own)
    threatening = {c for ts in threats.values() for c, _ in ts} - set(own)
    others = read_hazards(session, named | threatening)
    hazards = own | {c: others[c] for c in sorted(named) if c in others}
    book_hazards = own | {c: others[c] for c in sorted(threatening) if c in others}
    return village_hazards, hazards, book_hazards


def read_inspections(session: Session, *, activation_id: str, village_code: str) -> list[Any]:
    """This activation's inspections in the village, by hazard point then phase (rows)."""
    return read_rows(
        session,
        Inspection,
        Inspection.activation_id == activation_id,
        Inspection.village_code == village_code,
        order_by=(col(Inspection.hazard_code), col(Inspection.phase)),
    )
