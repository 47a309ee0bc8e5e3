"""The duty roster at monitoring and testing points: every hour, rested people, shortfalls said."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from sanqing.rules.roster import DutyRules, Roster, plan_roster

START = datetime(2026, 7, 12, 0, 0, tzinfo=UTC)


def covered_hours(roster: Roster, point: str) -> set[int]:
    hours = set()
    for s in roster.shifts:
        if s.point == point and s.person is not None:
            t = s.start
            while t < s.end:
                hours.add(int((t - START).total_seconds() // 3600))
                t += timedelta(hours=1)
    return hours


def test_enough_people_cover_every_hour_rested_and_balanced() -> None:
    people = [f"P{i}" for i in range(8)]
    roster = plan_roster(["卡点A", "检测点B"], people, start=START, hours=48)
    assert roster.uncovered_hours == 0
    for point in ("卡点A", "检测点B"):
        assert covered_hours(roster, point) == set(range(48))
    rest = roster.min_rest_hours()
    assert rest is not None and rest >= 8
    assert roster.max_hours_per_person_day() <= 12
    hours = roster.hours_by_person()
    assert max(hours.values()) - min(hours.values()) <= 8  # one shift apart at most
    # nobody is on two points at once
    for person in people:
        mine = sorted((s.start, s.end) for s in roster.shifts if s.person == person)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine))


def test_too_few_people_for_24_hours_leave_hours_uncovered_and_break_no_rule() -> None:
    roster = plan_roster(["卡点A"], ["甲", "乙"], start=START, hours=24)
    # 00-08 甲, 08-16 乙; 16-24: 甲 would pass 12 h that day, 乙 has not rested 8 h
    assert [(s.start.hour, s.person) for s in roster.shifts] == [(0, "甲"), (8, "乙"), (16, None)]
    assert roster.uncovered_hours == 8
    assert roster.max_hours_per_person_day() <= 12


def test_nobody_at_all_is_a_whole_day_uncovered() -> None:
    roster = plan_roster(["卡点A", "检测点B"], [], start=START, hours=24)
    assert roster.uncovered_hours == 48 and roster.min_rest_hours() is None


def test_a_person_busy_with_the_flood_plan_is_not_also_on_duty_then() -> None:
    door_visits = {"甲": [(START, START + timedelta(hours=6))]}
    roster = plan_roster(["卡点A"], ["甲", "乙", "丙"], start=START, hours=8, busy=door_visits)
    assert [s.person for s in roster.shifts] == ["乙"]


def test_the_last_shift_is_shorter_when_the_horizon_does_not_divide() -> None:
    roster = plan_roster(["卡点A"], ["甲", "乙", "丙"], start=START, hours=20)
    assert [s.hours for s in roster.shifts] == [8, 8, 4] and roster.uncovered_hours == 0


def test_shorter_shifts_and_rest_follow_the_rules_given() -> None:
    rules = DutyRules(shift_hours=6, min_rest_hours=12, max_hours_per_day=6)
    roster = plan_roster(["卡点A"], ["甲", "乙", "丙", "丁"], start=START, hours=24, rules=rules)
    assert roster.uncovered_hours == 0 and roster.max_hours_per_person_day() == 6
    assert len({s.person for s in roster.shifts}) == 4


@pytest.mark.parametrize(
    "bad", [{"shift_hours": 0}, {"min_rest_hours": -1}, {"max_hours_per_day": 0}]
)
def test_impossible_rules_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DutyRules(**bad)
