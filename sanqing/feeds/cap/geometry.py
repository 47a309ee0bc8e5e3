"""CAP area shapes: a polygon (a closed ring of ``lat,lon`` pairs) and a circle.

A shape that breaks CAP is a :class:`CapError`; the caller drops it with a note.
"""

from __future__ import annotations

from sanqing.errors import CapError


def _point(pair: str, element: str) -> tuple[float, float]:
    lat_s, sep, lon_s = pair.partition(",")
    try:
        if not sep:
            raise ValueError
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise CapError(element, f"point {pair!r} is not a lat,lon pair") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise CapError(element, f"point {pair!r} is out of range (lat ±90, lon ±180)")
    return lat, lon


def parse_polygon(text: str, notes: list[str]) -> list[tuple[float, float]]:
    """A CAP polygon: ≥ 4 space-separated ``lat,lon`` pairs, the first equal to the last."""
    ring = [_point(pair, "polygon") for pair in text.split()]
    if len(ring) < 4:
        raise CapError(
            "polygon", f"has {len(ring)} lat,lon pair(s); CAP requires at least 4 (a closed ring)"
        )
    if ring[0] != ring[-1]:
        notes.append("<polygon> was not closed (first pair ≠ last); closed it")
        ring.append(ring[0])
    return ring


def parse_circle(text: str) -> tuple[float, float, float]:
    """A CAP circle ``lat,lon radius_km``."""
    parts = text.split()
    if len(parts) != 2:
        raise CapError("circle", f"{text.strip()!r} is not 'lat,lon radius_km'")
    lat, lon = _point(parts[0], "circle")
    try:
        radius = float(parts[1])
    except ValueError:
        raise CapError("circle", f"radius {parts[1]!r} is not a number of km") from None
    if not radius >= 0.0 or radius == float("inf"):
        raise CapError("circle", f"radius {parts[1]!r} must be a finite number ≥ 0 km")
    return lat, lon, radius
