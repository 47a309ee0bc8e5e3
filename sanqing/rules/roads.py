"""Road clearing: machinery for blocked segments, one incident per machine at a time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sanqing.geo import distance_km


@dataclass(frozen=True)
class BlockedRoad:
    """An incident waiting for a machine, in the order it was reported."""

    incident_id: str
    lat: float
    lon: float


@dataclass(frozen=True)
class FreeMachine:
    code: str
    lat: float
    lon: float
    preference: int = 0  # lower is better suited (an excavator before a dump truck)


def dispatch(*, blocked: Sequence[BlockedRoad], machines: Iterable[FreeMachine]) -> dict[str, str]:
    """Send the best-suited, then nearest, free machine to each blocked road, oldest first.

    A machine serves one incident at a time: once given, it is not free until
    its road is reopened. Incidents left without a machine keep waiting.
    """
    free = list(machines)
    out: dict[str, str] = {}
    for road in blocked:
        if not free:
            break
        best = min(
            free,
            key=lambda m: (m.preference, distance_km(road.lat, road.lon, m.lat, m.lon), m.code),
        )
        free.remove(best)
        out[road.incident_id] = best.code
    return out


def machine_preference(kind: str, preferred: Sequence[str]) -> int:
    """Rank of a machine kind in the plan's list; kinds not listed come last."""
    return preferred.index(kind) if kind in preferred else len(preferred)
