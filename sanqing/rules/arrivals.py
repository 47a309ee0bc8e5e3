"""摸排: the risk class of a returnee or outsider, and what it calls for.

A risk area (风险区) is a region, named by its administrative-division code (a
province's 2 digits, a county's 6, a town's 9 …), with a class and the dates it held
it. A person is classed by where they came from and when: the highest class of any
area that contains their place (its code starts with the area's) and held that class
at some time from ``lookback_days`` before they arrived until they left. The class
then calls for what the plan's level says: home health monitoring for some days, a
test at a point, both, or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sanqing.models import ArrivalRisk as ArrivalRisk  # the classes; defined with the tables


@dataclass(frozen=True)
class RiskArea:
    code: str  # administrative-division code prefix: "6212" a prefecture, "621221" a county
    risk: ArrivalRisk
    since: date
    until: date | None = None  # None: still

    def __post_init__(self) -> None:
        if not self.code.isdigit():
            raise ValueError(f"risk area code {self.code!r}: digits of a division code")
        if self.until is not None and self.until < self.since:
            raise ValueError(f"risk area {self.code}: until {self.until} before since {self.since}")


@dataclass(frozen=True)
class Arrival:
    came_from: str  # the division code of where they stayed
    left_on: date  # when they left it
    arrived_on: date  # when they arrived in the town

    def __post_init__(self) -> None:
        if self.arrived_on < self.left_on:
            raise ValueError(f"arrived {self.arrived_on} before leaving on {self.left_on}")


@dataclass(frozen=True)
class Measures:
    """What a level asks per class: monitoring days (0: none) and whether to test."""

    monitoring_days: Mapping[ArrivalRisk, int]
    test: frozenset[ArrivalRisk] = frozenset()


@dataclass(frozen=True)
class Action:
    risk: ArrivalRisk
    monitoring_days: int  # home health monitoring (0: none)
    monitoring_until: date | None  # its last day (None: none)
    test: bool  # a test at a testing point


def risk_of(arrival: Arrival, areas: Iterable[RiskArea], *, lookback_days: int = 14) -> ArrivalRisk:
    """The highest class an area containing ``came_from`` held while they may have been there."""
    window_start = arrival.arrived_on - timedelta(days=lookback_days)
    found = ArrivalRisk.NONE
    for area in areas:
        if not arrival.came_from.startswith(area.code):
            continue
        held_then = area.since <= arrival.left_on and (
            area.until is None or area.until >= window_start
        )
        if held_then and area.risk.rank > found.rank:
            found = area.risk
    return found


def action_for(risk: ArrivalRisk, measures: Measures, arrived_on: date) -> Action:
    """What ``risk`` calls for at this level, counted from the day of arrival."""
    days = int(measures.monitoring_days.get(risk, 0))
    until = arrived_on + timedelta(days=days - 1) if days > 0 else None
    return Action(risk, monitoring_days=days, monitoring_until=until, test=risk in measures.test)
