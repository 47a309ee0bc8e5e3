"""24 小时执勤: a duty roster per monitoring or testing point, over one pool of people.

Every point is staffed every hour of the horizon in shifts of ``shift_hours`` (the last
one shorter when the horizon does not divide). Each shift goes to the person with the
fewest hours so far who may take it:

- not on another shift, nor busy elsewhere then (``busy``: the flood plan's door
  visits, say: one roster of people for both plans);
- at least ``min_rest_hours`` off before and after their other shifts;
- at most ``max_hours_per_day`` on duty on each calendar day the shift touches.

When nobody may take a shift it stays **uncovered** and is reported, never hidden:
too few people for 24 hours is a shortfall the town must fill, not a roster that
quietly breaks its own rest rule.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class DutyRules:
    """Defaults from the issue: 8 h shifts, at least 8 h rest, at most 12 h a day."""

    shift_hours: float = 8
    min_rest_hours: float = 8
    max_hours_per_day: float = 12

    def __post_init__(self) -> None:
        if self.shift_hours <= 0:
            raise ValueError(f"shift_hours must be above 0, not {self.shift_hours}")
        if self.min_rest_hours < 0 or self.max_hours_per_day <= 0:
            raise ValueError("min_rest_hours must be 0 or more and max_hours_per_day above 0")


@dataclass(frozen=True)
class Shift:
    point: str
    start: datetime
    end: datetime
    person: str | None  # None: uncovered

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass
class Roster:
    shifts: list[Shift] = field(default_factory=list)

    @property
    def uncovered(self) -> list[Shift]:
        return [s for s in self.shifts if s.person is None]

    @property
    def uncovered_hours(self) -> float:
        return sum(s.hours for s in self.uncovered)

    def hours_by_person(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for s in self.shifts:
            if s.person is not None:
                out[s.person] += s.hours
        return dict(out)

    def min_rest_hours(self) -> float | None:
        """The shortest time off between two shifts of one person (None: nobody has two)."""
        rests = [
            (b.start - a.end).total_seconds() / 3600
            for shifts in _by_person(self.shifts).values()
            for a, b in itertools.pairwise(shifts)
        ]
        return min(rests) if rests else None

    def max_hours_per_person_day(self) -> float:
        days: dict[tuple[str, date], float] = defaultdict(float)
        for s in self.shifts:
            if s.person is not None:
                for day, hours in _hours_per_day(s.start, s.end).items():
                    days[(s.person, day)] += hours
        return max(days.values(), default=0.0)


def plan_roster(
    points: Sequence[str],
    people: Sequence[str],
    *,
    start: datetime,
    hours: float = 24,
    rules: DutyRules = DutyRules(),
    busy: Mapping[str, Iterable[Interval]] | None = None,
) -> Roster:
    """Staff every point for ``hours`` from ``start``; see the module for the rules."""
    taken: dict[str, list[Interval]] = {p: sorted(busy.get(p, ())) if busy else [] for p in people}
    on_duty: dict[str, list[Interval]] = {p: [] for p in people}
    roster = Roster()
    for point_start, point in _shift_starts(points, start, hours, rules.shift_hours):
        end = min(point_start + timedelta(hours=rules.shift_hours), start + timedelta(hours=hours))
        person = _pick(people, on_duty, taken, (point_start, end), rules)
        if person is not None:
            on_duty[person].append((point_start, end))
        roster.shifts.append(Shift(point, point_start, end, person))
    return roster


def _shift_starts(
    points: Sequence[str], start: datetime, hours: float, shift_hours: float
) -> list[tuple[datetime, str]]:
    """Every shift's start, in time order, the points in their given order within one time."""
    starts, t = [], 0.0
    while t < hours:
        starts.append(start + timedelta(hours=t))
        t += shift_hours
    return [(s, p) for s in starts for p in points]


def _pick(
    people: Sequence[str],
    on_duty: Mapping[str, list[Interval]],
    taken: Mapping[str, list[Interval]],
    shift: Interval,
    rules: DutyRules,
) -> str | None:
    """The least loaded person who may take the shift (ties: the order given)."""
    allowed = [p for p in people if _may_take(on_duty[p], taken[p], shift, rules)]
    if not allowed:
        return None
    return min(allowed, key=lambda p: sum((e - s).total_seconds() for s, e in on_duty[p]))


def _may_take(
    duties: list[Interval], busy: list[Interval], shift: Interval, rules: DutyRules
) -> bool:
    start, end = shift
    rest = timedelta(hours=rules.min_rest_hours)
    if any(s < end and start < e for s, e in busy):
        return False
    if any(s < end + rest and start < e + rest for s, e in duties):
        return False  # overlapping, or too little rest before or after
    per_day: dict[date, float] = defaultdict(float)
    for s, e in [*duties, shift]:
        for day, hours in _hours_per_day(s, e).items():
            per_day[day] += hours
    return all(per_day[day] <= rules.max_hours_per_day + 1e-9 for day in _hours_per_day(start, end))


def _hours_per_day(start: datetime, end: datetime) -> dict[date, float]:
    """The hours of [start, end) on each calendar day it touches (in start's time zone)."""
    out: dict[date, float] = {}
    t = start
    while t < end:
        midnight = datetime.combine(t.date() + timedelta(days=1), datetime.min.time(), t.tzinfo)
        stop = min(end, midnight)
        out[t.date()] = out.get(t.date(), 0.0) + (stop - t).total_seconds() / 3600
        t = stop
    return out


def _by_person(shifts: Iterable[Shift]) -> dict[str, list[Shift]]:
    out: dict[str, list[Shift]] = defaultdict(list)
    for s in sorted(shifts, key=lambda s: s.start):
        if s.person is not None:
            out[s.person].append(s)
    return out
