"""What a town's village plans are made from: its registry, read once (a query a table).

Households are read as the few columns a plan counts and names (group, head's name,
members, grid, the special-group flags, the 包保责任人): never their ID numbers or
phones, so no plan document can print them. The mixed groups (with their leaders and
包片领导) are the epidemic flow's own (``sanqing.epidemic.groups.mixed_groups``), and the
points, vaccination site and vehicles its ``epidemic.yaml``, so a printed plan and the
work arrangements the flow sends name the same people and places.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from sanqing.epidemic.groups import TownGroups, mixed_groups
from sanqing.epidemic.resources import TownResources, load_town_resources
from sanqing.errors import SanqingError
from sanqing.models import (
    AssistanceTeam,
    Cadre,
    Grid,
    HazardPoint,
    HazardThreat,
    Household,
    Shelter,
    Town,
    Village,
    Zone,
)

#: The special groups (特殊群体) a plan counts, in the order it lists them.
SPECIAL_GROUPS = (
    "five_guarantee",
    "elderly_alone",
    "mobility_impaired",
    "left_behind_children",
    "hardship",
)


@dataclass(frozen=True)
class HouseholdFacts:
    """The columns of a household a plan document may use (no ID number, no phone)."""

    code: str
    village_code: str
    grid_code: str | None
    group_name: str
    head_name: str
    members: int
    responsible_cadre_code: str | None
    groups: tuple[str, ...]  # the special groups it belongs to, in SPECIAL_GROUPS order


@dataclass
class TownBook:
    """A town's registry for its village plans, grouped by village code."""

    town: Town
    villages: list[Village]
    teams: dict[str, list[AssistanceTeam]]
    cadres: dict[str, Cadre]
    grids: dict[str, list[Grid]]
    households: dict[str, HouseholdFacts]
    hazards: dict[str, list[HazardPoint]]
    #: the epidemic flow's mixed groups, 包片领导 and the town's leaders
    groups: TownGroups
    #: hazard code → [(household code, zone)]
    threats: dict[str, list[tuple[str, Zone]]] = field(default_factory=dict)
    shelters: dict[str, list[Shelter]] = field(default_factory=dict)
    #: the town's epidemic.yaml: points, vaccination site, vehicles (none without the file)
    resources: TownResources = field(default_factory=TownResources)

    def cadre(self, code: str | None) -> Cadre | None:
        return self.cadres.get(code or "")

    def village_cadres(self, village_code: str) -> list[Cadre]:
        """The village's own cadres, by code."""
        return sorted(
            (c for c in self.cadres.values() if c.village_code == village_code),
            key=lambda c: c.code,
        )

    def village_households(self, village_code: str) -> list[HouseholdFacts]:
        return [h for h in self.households.values() if h.village_code == village_code]


def _by_village(rows: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        out[row.village_code].append(row)
    return dict(out)


def _households(session: Session, village_codes: list[str]) -> dict[str, HouseholdFacts]:
    """The town's households, only the columns a plan may use."""
    flags = [getattr(Household, g) for g in SPECIAL_GROUPS]
    rows = session.execute(
        select_rows(
            col(Household.code),
            col(Household.village_code),
            col(Household.grid_code),
            col(Household.group_name),
            col(Household.head_name),
            col(Household.members),
            col(Household.responsible_cadre_code),
            *flags,
        )
        .where(col(Household.village_code).in_(village_codes))
        .order_by(col(Household.code))
    )
    out = {}
    for r in rows:
        out[r.code] = HouseholdFacts(
            code=r.code,
            village_code=r.village_code,
            grid_code=r.grid_code,
            group_name=r.group_name,
            head_name=r.head_name,
            members=r.members,
            responsible_cadre_code=r.responsible_cadre_code,
            groups=tuple(g for g in SPECIAL_GROUPS if getattr(r, g)),
        )
    return out


def _check_points(resources: TownResources, villages: list[Village]) -> None:
    """A point naming no village of the town is refused, as the flow refuses it."""
    names = {v.name for v in villages}
    for p in resources.points:
        if p.village is not None and p.village not in names:
            raise SanqingError(
                f"epidemic.yaml: point {p.code}: {p.village} is not a village of the town"
            )


def load_town_book(
    session: Session, *, town_code: str, resources: TownResources | None = None
) -> TownBook:
    """Read the town's registry for its village plans: one query a table, not a village.

    ``resources`` defaults to the town's ``epidemic.yaml`` (none: no points, no rides).
    """
    town = session.get(Town, town_code)
    if town is None:
        raise LookupError(f"town {town_code} is not in the registry; run `sanqing init` first")
    villages = list(
        session.exec(select(Village).where(Village.town_code == town_code).order_by(Village.code))
    )
    codes = [v.code for v in villages]

    def of_villages(model: Any) -> dict[str, list[Any]]:
        rows = session.exec(
            select(model).where(col(model.village_code).in_(codes)).order_by(col(model.code))
        )
        return _by_village(rows)

    hazards = of_villages(HazardPoint)
    threats: dict[str, list[tuple[str, Zone]]] = defaultdict(list)
    hazard_codes = [h.code for hs in hazards.values() for h in hs]
    for t in session.exec(
        select(HazardThreat)
        .where(col(HazardThreat.hazard_code).in_(hazard_codes))
        .order_by(col(HazardThreat.hazard_code), col(HazardThreat.household_code))
    ):
        threats[t.hazard_code].append((t.household_code, Zone(t.zone)))
    resources = resources if resources is not None else load_town_resources(town.key)
    _check_points(resources, villages)
    # the flow's groups; their cadres (the town's, by code) serve the whole plan
    groups = mixed_groups(session, town_code)
    return TownBook(
        town=town,
        villages=villages,
        teams=of_villages(AssistanceTeam),
        cadres=groups.cadres,
        grids=of_villages(Grid),
        households=_households(session, codes),
        hazards=hazards,
        threats=dict(threats),
        shelters=of_villages(Shelter),
        groups=groups,
        resources=resources,
    )
