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


def dispatch(*, blocked: Sequence[BlockedRoad], machines: Iterable[FreeMachine]) -> dict[str, str]:
    """Send the nearest free machine to each blocked road, oldest incident first.

    A machine serves one incident at a time: once given, it is not free until
    its road is reopened. Incidents left without a machine keep waiting.
    """
    free = list(machines)
    out: dict[str, str] = {}
    for road in blocked:
        if not free:
            break
        best = min(free, key=lambda m: (distance_km(road.lat, road.lon, m.lat, m.lon), m.code))
        free.remove(best)
        out[road.incident_id] = best.code
    return out
