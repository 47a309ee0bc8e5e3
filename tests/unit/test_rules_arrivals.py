"""摸排: an arrival's risk class from where and when, and the measures it calls for."""

from __future__ import annotations

from datetime import date

import pytest

from sanqing.rules.arrivals import (
    Arrival,
    ArrivalRisk,
    Measures,
    RiskArea,
    action_for,
    risk_of,
)

AREAS = [
    RiskArea("4201", ArrivalRisk.MEDIUM, since=date(2026, 7, 1)),  # a whole prefecture
    RiskArea("420106", ArrivalRisk.HIGH, since=date(2026, 7, 5), until=date(2026, 7, 10)),
    RiskArea("3101", ArrivalRisk.LOW, since=date(2026, 6, 1), until=date(2026, 6, 20)),
]
LEVEL = Measures(
    monitoring_days={ArrivalRisk.HIGH: 14, ArrivalRisk.MEDIUM: 7},
    test=frozenset({ArrivalRisk.HIGH, ArrivalRisk.MEDIUM, ArrivalRisk.LOW}),
)


def test_the_highest_class_of_any_area_around_the_place_while_they_were_there() -> None:
    came = Arrival("420106001", left_on=date(2026, 7, 8), arrived_on=date(2026, 7, 9))
    assert risk_of(came, AREAS) == ArrivalRisk.HIGH  # the district, inside the prefecture


def test_an_area_that_ended_long_before_counts_no_more() -> None:
    # the district's high class ended on 7-10; arrived 7-30: 14 days back is 7-16
    came = Arrival("420106001", left_on=date(2026, 7, 29), arrived_on=date(2026, 7, 30))
    assert risk_of(came, AREAS) == ArrivalRisk.MEDIUM  # the prefecture still is
    assert risk_of(came, AREAS, lookback_days=30) == ArrivalRisk.HIGH


def test_an_area_declared_after_they_left_does_not_class_them() -> None:
    came = Arrival("420106001", left_on=date(2026, 6, 28), arrived_on=date(2026, 6, 29))
    assert risk_of(came, AREAS) == ArrivalRisk.NONE


def test_elsewhere_is_no_risk_and_a_code_prefix_is_not_a_substring() -> None:
    assert risk_of(Arrival("621221", date(2026, 7, 8), date(2026, 7, 9)), AREAS) == "none"
    assert risk_of(Arrival("5420106", date(2026, 7, 8), date(2026, 7, 9)), AREAS) == "none"


def test_the_class_calls_for_the_levels_measures_counted_from_arrival() -> None:
    high = action_for(ArrivalRisk.HIGH, LEVEL, date(2026, 7, 9))
    assert (high.monitoring_days, high.monitoring_until, high.test) == (14, date(2026, 7, 22), True)
    low = action_for(ArrivalRisk.LOW, LEVEL, date(2026, 7, 9))
    assert (low.monitoring_days, low.monitoring_until, low.test) == (0, None, True)
    none = action_for(ArrivalRisk.NONE, LEVEL, date(2026, 7, 9))
    assert (none.monitoring_days, none.test) == (0, False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RiskArea("湖北", ArrivalRisk.HIGH, since=date(2026, 7, 1)),
        lambda: RiskArea("42", ArrivalRisk.HIGH, since=date(2026, 7, 2), until=date(2026, 7, 1)),
        lambda: Arrival("42", left_on=date(2026, 7, 2), arrived_on=date(2026, 7, 1)),
    ],
)
def test_impossible_areas_and_arrivals_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
