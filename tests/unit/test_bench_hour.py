"""The county bench runs its towns at one local hour whenever it runs (the plan's night
changes what a town does: danger zones move before the approval)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bench.county_response import zone_at
from sanqing.plans import load_plan


@pytest.mark.parametrize("utc_hour", range(24))
def test_the_towns_run_at_01_at_night_and_13_by_day_whatever_the_utc_hour(utc_hour: int) -> None:
    at_utc = datetime(2026, 7, 12, utc_hour, 30, tzinfo=UTC)
    defaults = load_plan("flood").defaults
    night = at_utc.astimezone(ZoneInfo(zone_at("night", utc_hour)))
    day = at_utc.astimezone(ZoneInfo(zone_at("day", utc_hour)))
    assert (night.hour, day.hour) == (1, 13)
    assert defaults.is_night(night.time()) and not defaults.is_night(day.time())
