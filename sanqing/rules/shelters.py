"""Shelter assignment under capacity: nearest shelter with room, a household never split."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import asin, cos, inf, nextafter, radians, sin, sqrt

from sanqing.geo import EARTH_RADIUS_KM

#: Kinds of place that treat the hurt: never a shelter (the town's 卫生院).
MEDICAL_KINDS = frozenset({"卫生院", "医院", "卫生室"})


@dataclass(frozen=True)
class Mover:
    """A household to be placed, in priority order."""

    household_code: str
    people: int
    lat: float
    lon: float


@dataclass
class ShelterRoom:
    """A shelter and how many places are left in it."""

    code: str
    lat: float
    lon: float
    capacity: int
    occupied: int = 0

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.occupied)


@dataclass(frozen=True)
class Placement:
    household_code: str
    shelter_code: str | None  # None: no room within reach (shortfall, county support)
    distance_km: float | None


def assign_shelters(
    *,
    movers: Iterable[Mover],
    shelters: Iterable[ShelterRoom],
    max_distance_km: float,
) -> list[Placement]:
    """Place each household, in the given order, in the nearest shelter that fits it whole.

    Shelters of any village of the town count, so a village without a shelter
    uses its neighbours'. A household that fits nowhere within
    ``max_distance_km`` is a shortfall: it still moves, but needs county support.
    """
    rooms = list(shelters)
    # distance_km's arithmetic, with each shelter's share computed once (the same floats).
    sites = [(room, radians(room.lat), cos(radians(room.lat))) for room in rooms]
    # The distance grows with the haversine term ``a``: a room whose ``a`` is clearly
    # (``_MARGIN``, far above rounding) beyond ``far`` is out of reach, and one clearly
    # beyond the best's is farther than it. Those are skipped without their sqrt and
    # asin; every distance compared is the same float as before, so the same choice.
    far = _beyond(max_distance_km)
    out: list[Placement] = []
    for m in movers:
        best: ShelterRoom | None = None
        best_a = best_d = 0.0
        p1 = radians(m.lat)
        cos_p1 = cos(p1)
        for room, p2, cos_p2 in sites:
            if max(0, room.capacity - room.occupied) < m.people:  # room.free, inlined
                continue
            dl = radians(room.lon - m.lon)
            a = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos_p2 * sin(dl / 2) ** 2
            if a > far or (best is not None and a > best_a * _MARGIN):
                continue
            d = _km(a)
            if d > max_distance_km:
                continue
            if best is None or d < best_d or (d == best_d and room.code < best.code):
                best, best_a, best_d = room, a, d
        if best is None:
            out.append(Placement(m.household_code, None, None))
            continue
        best.occupied += m.people
        out.append(Placement(m.household_code, best.code, round(best_d, 2)))
    return out


#: How much larger a haversine term must be to be farther whatever the rounding.
_MARGIN = 1 + 1e-9


def _km(a: float) -> float:
    """``distance_km`` from its haversine term."""
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))


def _beyond(max_distance_km: float) -> float:
    """A haversine term whose distance is past ``max_distance_km`` (inf: none is)."""
    if not _km(1.0) > max_distance_km:
        return inf
    a = min(1.0, sin(max(0.0, max_distance_km) / (2 * EARTH_RADIUS_KM)) ** 2 * _MARGIN)
    while not _km(a) > max_distance_km:
        a = nextafter(a, inf)
    return a


def shortfall_people(placements: Iterable[Placement], people: Mapping[str, int]) -> int:
    """People who have no place in a shelter."""
    return sum(people[p.household_code] for p in placements if p.shelter_code is None)


def is_medical_unit(name: str, kind: str, medical_unit: str | None) -> bool:
    """Whether a place is the town's 卫生院 (its ``medical_unit``), or of a medical kind."""
    return kind.strip() in MEDICAL_KINDS or bool(medical_unit and name.strip() == medical_unit)
