"""三情叠加: where people move in a flood while the epidemic plan is running.

People under home health monitoring move like everyone else, but only into a
shelter's isolation places (``isolation_places``: separate rooms kept for them);
everyone else only into its general places, whose capacity the epidemic level
cuts to ``capacity_factor`` of it (spacing). The two are never mixed: a monitored
household never takes a general place, nor another household an isolation place.
A medical unit (the town's 卫生院) is never a shelter. Within each kind the flood
rule holds: the nearest shelter with room, a household never split, the order given.
What fits nowhere is a shortfall, per kind, reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sanqing.rules.shelters import Mover, Placement, ShelterRoom, assign_shelters


@dataclass(frozen=True)
class OverlayShelter:
    code: str
    lat: float
    lon: float
    capacity: int  # general places, before spacing
    isolation_places: int = 0
    medical: bool = False  # the 卫生院: never a shelter
    occupied: int = 0  # general places already taken (by running responses)
    isolation_occupied: int = 0  # isolation places already taken


@dataclass(frozen=True)
class OverlayMover:
    mover: Mover
    monitored: bool  # someone of the household is under home health monitoring


@dataclass
class OverlayPlacement:
    general: list[Placement] = field(default_factory=list)
    isolation: list[Placement] = field(default_factory=list)
    people: dict[str, int] = field(default_factory=dict)

    @property
    def monitored_people_moved(self) -> int:
        return sum(self.people[p.household_code] for p in self.isolation)

    @property
    def in_isolation_places(self) -> int:
        return sum(self.people[p.household_code] for p in self.isolation if p.shelter_code)

    def shortfall(self, *, monitored: bool) -> int:
        placed = self.isolation if monitored else self.general
        return sum(self.people[p.household_code] for p in placed if p.shelter_code is None)

    def mixed(self, monitored_codes: Iterable[str]) -> int:
        """Households placed in the other kind of place than theirs (the rule keeps it 0)."""
        monitored = set(monitored_codes)
        wrong = [p for p in self.general if p.household_code in monitored and p.shelter_code]
        wrong += [p for p in self.isolation if p.household_code not in monitored and p.shelter_code]
        return len(wrong)


def place_with_epidemic(
    movers: Sequence[OverlayMover],
    shelters: Iterable[OverlayShelter],
    *,
    capacity_factor: float,
    max_distance_km: float,
) -> OverlayPlacement:
    """Place monitored households in isolation places and the others in spaced general places."""
    if not 0 < capacity_factor <= 1:
        raise ValueError(f"capacity_factor must be in (0, 1], not {capacity_factor}")
    usable = [s for s in shelters if not s.medical]
    general_rooms = [
        ShelterRoom(s.code, s.lat, s.lon, math.floor(s.capacity * capacity_factor), s.occupied)
        for s in usable
    ]
    isolation_rooms = [
        ShelterRoom(s.code, s.lat, s.lon, s.isolation_places, s.isolation_occupied)
        for s in usable
        if s.isolation_places > 0
    ]
    out = OverlayPlacement(people={m.mover.household_code: m.mover.people for m in movers})
    out.isolation = assign_shelters(
        movers=[m.mover for m in movers if m.monitored],
        shelters=isolation_rooms,
        max_distance_km=max_distance_km,
    )
    out.general = assign_shelters(
        movers=[m.mover for m in movers if not m.monitored],
        shelters=general_rooms,
        max_distance_km=max_distance_km,
    )
    return out
