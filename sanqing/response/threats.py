"""Who the plan moves: the registry's threats to households, the hazard points and what
the inspections found there, read the way PostgreSQL reads fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, String, any_, cast, func
from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    HazardPoint,
    HazardThreat,
    Household,
    Inspection,
    InspectionStatus,
)
from sanqing.plans import Plan
from sanqing.response.timeline import read_rows
from sanqing.rules import relocation as rules


def village_threats(session: Session, *village_codes: str) -> list[Any]:
    """The threats to the villages' households, by household and hazard code.

    PostgreSQL plans the plain join as a scan of the county's whole threat table
    (~3 ms a village, many times a response); the household codes as one array, looked
    up in the threats' index, take ~0.5 ms. SQLite's planner uses the index anyway.
    """
    in_villages = col(Household.village_code).in_(village_codes)
    if session.get_bind().dialect.name == "postgresql":
        codes_array = select(func.array_agg(Household.code)).where(in_villages)
        where = col(HazardThreat.household_code) == any_(
            cast(codes_array.scalar_subquery(), ARRAY(String))
        )
    else:
        where = col(HazardThreat.household_code).in_(select(Household.code).where(in_villages))
    return read_rows(
        session,
        HazardThreat,
        where,
        order_by=(col(HazardThreat.household_code), col(HazardThreat.hazard_code)),
    )


def movers(
    session: Session, *, act: Activation, plan: Plan, village_codes: Sequence[str]
) -> list[rules.Candidate]:
    """The villages' households that move at the activation's level, given the findings,
    in the order they move (one read of each table, however many villages)."""
    households = read_rows(
        session,
        Household,
        col(Household.village_code).in_(village_codes),
        order_by=Household.code,
    )
    threats = village_threats(session, *village_codes)
    hazards = _hazards(session, village_codes=village_codes, threats=threats)
    return rules.select_households(
        households=households,
        threats=threats,
        hazards=hazards,
        scope=plan.level(act.level).relocate,
        findings=_findings(session, activation_id=act.id, hazard_codes=list(hazards)),
    )


def _hazards(
    session: Session, *, village_codes: Sequence[str], threats: list[Any]
) -> dict[str, HazardPoint]:
    """The villages' hazard points, and the neighbours' points that threaten their households."""
    hazards = {
        h.code: h
        for h in session.exec(
            select(HazardPoint).where(col(HazardPoint.village_code).in_(village_codes))
        )
    }
    # A household may be threatened by a point registered in a village not among these.
    foreign = {t.hazard_code for t in threats} - set(hazards)
    if foreign:
        for h in session.exec(select(HazardPoint).where(col(HazardPoint.code).in_(foreign))):
            hazards[h.code] = h
    return hazards


def _findings(session: Session, *, activation_id: str, hazard_codes: list[str]) -> dict[str, str]:
    """What the inspections found at each point; a danger in any phase wins."""
    findings: dict[str, str] = {}
    for code, status in session.exec(
        select(Inspection.hazard_code, Inspection.status).where(
            Inspection.activation_id == activation_id,
            col(Inspection.hazard_code).in_(hazard_codes),
        )
    ):
        if status == InspectionStatus.DANGER or code not in findings:
            findings[code] = status
    return findings
