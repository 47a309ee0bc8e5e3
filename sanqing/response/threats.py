"""The registry's threats to a village's households, read the way PostgreSQL reads fast."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, String, any_, cast, func
from sqlmodel import Session, col, select

from sanqing.models import HazardThreat, Household
from sanqing.response.timeline import read_rows


def village_threats(session: Session, village_code: str) -> list[Any]:
    """The threats to the village's households, by household and hazard code.

    PostgreSQL plans the plain join as a scan of the county's whole threat table
    (~3 ms a village, many times a response); the household codes as one array, looked
    up in the threats' index, take ~0.5 ms. SQLite's planner uses the index anyway.
    """
    codes = select(Household.code).where(Household.village_code == village_code)
    if session.get_bind().dialect.name == "postgresql":
        codes_array = select(func.array_agg(Household.code)).where(
            Household.village_code == village_code
        )
        where = col(HazardThreat.household_code) == any_(
            cast(codes_array.scalar_subquery(), ARRAY(String))
        )
    else:
        where = col(HazardThreat.household_code).in_(codes)
    return read_rows(
        session,
        HazardThreat,
        where,
        order_by=(col(HazardThreat.household_code), col(HazardThreat.hazard_code)),
    )
