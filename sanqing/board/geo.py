"""The board's map: villages, hazard points and shelters placed by their coordinates.

No tile server (a township's network may be down, or not allowed out): the points
are projected onto a plain SVG canvas, equirectangular with the longitude scaled by
the cosine of the town's latitude, so distances look right at a town's size.
"""

from __future__ import annotations

from math import cos, radians
from typing import Any

from sqlmodel import Session, col, select

from sanqing.models import (
    Activation,
    HazardPoint,
    Inspection,
    InspectionStatus,
    Shelter,
    Village,
)

#: Canvas size (SVG user units) and the margin kept free around the points.
WIDTH, HEIGHT, MARGIN = 640, 420, 40


def town_map(session: Session, act: Activation) -> dict[str, Any]:
    """Every place of the town with x/y on the canvas; hazard points with their state."""
    villages = list(session.exec(select(Village).where(Village.town_code == act.town_code)))
    codes = [v.code for v in villages]
    points = list(session.exec(select(HazardPoint).where(col(HazardPoint.village_code).in_(codes))))
    shelters = list(session.exec(select(Shelter).where(Shelter.town_code == act.town_code)))
    state = _point_states(session, act.id)
    placed = _placed(session, act.id)
    coords = [(v.lat, v.lon) for v in villages] + [(p.lat, p.lon) for p in points]
    project = _projection(coords + [(s.lat, s.lon) for s in shelters])
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "villages": [
            {"name": v.name, **project(v.lat, v.lon), "moving": v.code in act.village_codes}
            for v in villages
        ],
        "hazards": [
            {"name": p.name, **project(p.lat, p.lon), "state": state.get(p.code, "none")}
            for p in points
        ],
        "shelters": [
            {
                "name": s.name,
                **project(s.lat, s.lon),
                "capacity": s.capacity,
                "people": placed.get(s.code, 0),
            }
            for s in shelters
        ],
    }


def _projection(coords: list[tuple[float, float]]) -> Any:
    """A function (lat, lon) → {x, y} fitting every coordinate in the canvas."""
    if not coords:
        return lambda lat, lon: {"x": WIDTH / 2, "y": HEIGHT / 2}
    lats = [c[0] for c in coords]
    lons = [c[1] for c in coords]
    k = cos(radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * k, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    x0 = (WIDTH - span_x * scale) / 2
    y0 = (HEIGHT - span_y * scale) / 2

    def project(lat: float, lon: float) -> dict[str, float]:
        return {
            "x": round(x0 + (lon - min(lons)) * k * scale, 1),
            "y": round(y0 + (max(lats) - lat) * scale, 1),
        }

    return project


def _point_states(session: Session, activation_id: str) -> dict[str, str]:
    """Each inspected point's worst state in this activation: danger, watch, ok, assigned."""
    rank: dict[str, int] = {
        InspectionStatus.ASSIGNED: 0,
        InspectionStatus.OK: 1,
        InspectionStatus.WATCH: 2,
        InspectionStatus.CANNOT_JUDGE: 3,
        InspectionStatus.DANGER: 3,
    }
    out: dict[str, str] = {}
    for code, status in session.exec(
        select(Inspection.hazard_code, Inspection.status).where(
            Inspection.activation_id == activation_id
        )
    ):
        if code not in out or rank[status] > rank[out[code]]:
            out[code] = status
    return {
        code: "danger" if s == InspectionStatus.CANNOT_JUDGE else str(s) for code, s in out.items()
    }


def _placed(session: Session, activation_id: str) -> dict[str, int]:
    """People this activation has placed in each shelter (as ``sanqing status`` counts them)."""
    from sanqing.status import placed_people

    out: dict[str, int] = {}
    for (code, _isolation), people in placed_people(session, activation_id).items():
        out[code] = out.get(code, 0) + people
    return out
