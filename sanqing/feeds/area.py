"""Which villages a warning covers: geocodes, polygons, circles, or (fallback) the area text.

Plain functions over the registry rows, no database access:

- a **geocode** covers every village whose administrative-division code starts
  with it (6 digits: a county, 9: a town, 12: a village). Codes padded with
  zeros to a longer form (``621221000000``, ``621200``) are read as the shorter
  division they name. Values that are not numeric or not 6, 9 or 12 digits long
  are not used, and only geocodes whose ``valueName`` names a Chinese division
  code scheme count (``DIVISION_SCHEMES``): a SAME, FIPS, UGC or ISO 3166-2 code
  that happens to be six digits is no Chinese county. ``notes`` says so.
- a **polygon** (closed ring of ``(lat, lon)``) covers a village whose point lies
  inside it; a point exactly on an edge or vertex counts as inside.
- a **circle** (``lat, lon, radius_km``) covers a village whose point is within
  the radius (haversine distance, radius included).
- only when the warning has none of the above, the **area description** covers
  a village it names, or every village of a town or county it names; this
  fallback is written in ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from sanqing.feeds.model import FeedWarning
from sanqing.geo import distance_km
from sanqing.models import Town, Village

GEOCODE = "geocode"
POLYGON = "polygon"
CIRCLE = "circle"
AREA_DESC = "area_desc"

#: CAP geocode ``valueName``s that denote Chinese administrative-division codes (GB/T 2260,
#: extended to town and village level by the statistical division codes), compared after
#: ``scheme_key`` (case, spaces, '/', '-', '_' and '.' ignored). Anything else — SAME, FIPS6,
#: UGC, ISO 3166-2, EMMA_ID, NUTS, postcodes, an empty name — is another scheme, whose
#: numbers mean something else:
#:
#: - ``行政区划代码`` / ``行政区代码`` / ``区划代码``: the Chinese names of the code;
#: - ``GB/T 2260`` / ``GB 2260`` / ``GB2260``: the national standard that defines it;
#: - ``ADCODE`` / ``areaCode``: the names China's early-warning release systems and map
#:   services (AMap/高德 ``adcode``) give the same code in their CAP and JSON feeds;
#: - ``admin``: sanqing's own name (the QWeather adapter writes ``("admin", code)``, and the
#:   sample feeds use it).
DIVISION_SCHEMES = frozenset(
    {"行政区划代码", "行政区代码", "区划代码", "gbt2260", "gb2260", "adcode", "areacode", "admin"}
)
#: Lengths of administrative-division codes: county, town, village.
CODE_LENGTHS = (6, 9, 12)
#: Two points closer than this (degrees) are the same point for the on-edge test (~1 mm).
EDGE_EPSILON = 1e-8


@dataclass(frozen=True)
class Coverage:
    """The villages (and their towns) a warning covers, how each was matched, and notes."""

    village_codes: list[str] = field(default_factory=list)  # sorted
    town_codes: list[str] = field(default_factory=list)  # sorted
    how: dict[str, str] = field(default_factory=dict)  # village code → geocode/polygon/…
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.village_codes


def scheme_key(value_name: str) -> str:
    """A geocode ``valueName`` compared loosely: ``GB/T 2260`` → ``gbt2260``."""
    return "".join(c for c in value_name.casefold() if c not in " /-_.\t")


def division_prefix(value: str) -> str | None:
    """The code prefix a geocode value stands for, or None when it is no division code.

    ``621221106`` → itself; ``621221106000`` (a town padded to 12) → ``621221106``;
    ``621221000000`` → ``621221``; ``621200`` (a prefecture) → ``6212``; ``620000`` → ``62``.
    """
    v = value.strip()
    if not v.isascii() or not v.isdigit() or len(v) not in CODE_LENGTHS:
        return None
    if len(v) == 12 and v.endswith("000"):
        v = v[:9]
    if len(v) == 9 and v.endswith("000"):
        v = v[:6]
    if len(v) == 6 and v.endswith("00"):
        v = v[:2] if v.endswith("0000") else v[:4]
    if set(v) == {"0"}:
        return None
    return v


def _on_segment(lat: float, lon: float, a: tuple[float, float], b: tuple[float, float]) -> bool:
    (y1, x1), (y2, x2) = a, b
    cross = (x2 - x1) * (lat - y1) - (y2 - y1) * (lon - x1)
    length = max(abs(x2 - x1), abs(y2 - y1), EDGE_EPSILON)
    if abs(cross) / length > EDGE_EPSILON:
        return False
    return (
        min(x1, x2) - EDGE_EPSILON <= lon <= max(x1, x2) + EDGE_EPSILON
        and min(y1, y2) - EDGE_EPSILON <= lat <= max(y1, y2) + EDGE_EPSILON
    )


def point_in_polygon(lat: float, lon: float, ring: Sequence[tuple[float, float]]) -> bool:
    """Whether ``(lat, lon)`` lies in the ring (even-odd ray casting; on the edge is inside).

    The ring is closed if it is not; fewer than three distinct points cover nothing.
    """
    pts = [(float(a), float(b)) for a, b in ring]
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    if len(set(pts)) < 3:
        return False
    for a, b in pairwise(pts):
        if _on_segment(lat, lon, a, b):
            return True
    inside = False
    for (y1, x1), (y2, x2) in pairwise(pts):
        # A ray from the point towards +lon; the half-open rule counts a vertex once.
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_cross:
                inside = not inside
    return inside


def point_in_circle(lat: float, lon: float, circle: tuple[float, float, float]) -> bool:
    clat, clon, radius_km = circle
    return distance_km(lat, lon, clat, clon) <= radius_km


def covered_villages(
    warning: FeedWarning, villages: Sequence[Village], towns: Mapping[str, Town]
) -> Coverage:
    """The villages of ``villages`` the warning covers (``towns``: by code, for names)."""
    notes: list[str] = []
    prefixes = _division_prefixes(warning.geocodes, notes)
    polygons = _usable_polygons(warning.polygons, notes)
    circles = _usable_circles(warning.circles, notes)
    how: dict[str, str] = {}
    for v in villages:
        if any(v.code.startswith(p) for p in prefixes):
            how[v.code] = GEOCODE
        elif any(point_in_polygon(v.lat, v.lon, ring) for ring in polygons):
            how[v.code] = POLYGON
        elif any(point_in_circle(v.lat, v.lon, c) for c in circles):
            how[v.code] = CIRCLE

    precise = bool(prefixes or polygons or circles)
    desc = warning.area_desc.strip()
    if not precise and desc:
        _match_by_name(desc, villages, towns, how, notes)
    elif not precise:
        notes.append("the warning gives no area (no geocode, polygon, circle or description)")

    codes = sorted(how)
    by_code = {v.code: v for v in villages}
    return Coverage(
        village_codes=codes,
        town_codes=sorted({by_code[c].town_code for c in codes}),
        how={c: how[c] for c in codes},
        notes=notes,
    )


def _division_prefixes(geocodes: Sequence[tuple[str, str]], notes: list[str]) -> list[str]:
    """The division-code prefixes of the geocodes; the others are noted and not used."""
    prefixes: list[str] = []
    for name, value in geocodes:
        if scheme_key(name) not in DIVISION_SCHEMES:
            notes.append(
                f"geocode {name or '(no valueName)'}={value!r} is not an administrative-division"
                " code (another scheme): not used"
            )
        elif (prefix := division_prefix(value)) is None:
            notes.append(
                f"geocode {name}={value!r} is not an administrative-division code: not used"
            )
        else:
            prefixes.append(prefix)
    return prefixes


def _usable_polygons(
    polygons: Sequence[Sequence[tuple[float, float]]], notes: list[str]
) -> list[Sequence[tuple[float, float]]]:
    """The polygons with at least three distinct points; the others are noted."""
    usable = []
    for i, ring in enumerate(polygons):
        if len(set(ring)) < 3:
            notes.append(f"polygon {i + 1} has fewer than three distinct points: not used")
        else:
            usable.append(ring)
    return usable


def _usable_circles(
    circles: Sequence[tuple[float, float, float]], notes: list[str]
) -> list[tuple[float, float, float]]:
    """The circles with a radius of 0 or more; the others are noted."""
    usable = []
    for i, circle in enumerate(circles):
        if circle[2] < 0:
            notes.append(f"circle {i + 1} has a negative radius: not used")
        else:
            usable.append(circle)
    return usable


def _match_by_name(
    desc: str,
    villages: Sequence[Village],
    towns: Mapping[str, Town],
    how: dict[str, str],
    notes: list[str],
) -> None:
    """The fallback: the villages, towns and counties the area description names."""
    named: set[str] = set()
    for v in villages:
        town = towns.get(v.town_code)
        if v.name and v.name in desc:
            how[v.code] = AREA_DESC
            named.add(v.name)
        elif town is not None and town.name and town.name in desc:
            how[v.code] = AREA_DESC
            named.add(town.name)
        elif town is not None and town.county and town.county in desc:
            how[v.code] = AREA_DESC
            named.add(town.county)
    if named:
        notes.append(
            "no geocode, polygon or circle: area matched by name in the area description "
            f"({', '.join(sorted(named))})"
        )
    else:
        notes.append(
            "no geocode, polygon or circle, and the area description names no registered "
            "village, town or county"
        )
