"""A drill runs on its scenario's clock: start = warning time + reaction, every stamp follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from sanqing import response
from sanqing.db import session_scope
from sanqing.errors import SanqingError
from sanqing.models import Activation, TimelineEvent
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.warning import WarningInfo
from tasks.plan_steps import drill_start
from tests.unit.test_response import activate

SENT = datetime(2026, 7, 12, 10, 30, tzinfo=UTC)  # 18:30 in Beijing


def _drill() -> str:
    ensure_registry("jifeng")
    warning = WarningInfo(identifier="D-1", colour="orange", sent=SENT)
    start = drill_start(load_plan(), warning)
    assert start == SENT + timedelta(minutes=load_plan().defaults.drill_reaction_minutes)
    with session_scope() as s:
        return response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.II,
            warning=warning,
            drill=True,
            now=start,
        ).activation_id


def _close(a: datetime, b: datetime) -> bool:
    a, b = (x if x.tzinfo else x.replace(tzinfo=UTC) for x in (a, b))
    return abs((a - b).total_seconds()) < 30


def test_a_drill_starts_at_its_warning_and_its_steps_follow_its_clock(db_url: str) -> None:
    act = _drill()
    start = SENT + timedelta(minutes=15)
    with session_scope() as s:
        a = s.get(Activation, act)
        assert a is not None and _close(a.activated_at, start)
        assert _close(response.clock(s, act), start)  # no wall-clock time has passed for it
        later = response.advance_clock(s, act, 45)
        assert _close(later, start + timedelta(minutes=45))
        response.log_event(s, activation_id=act, key="x", actor="演练", action="测试", detail="")
    with session_scope() as s:
        at = s.exec(select(TimelineEvent.at).where(TimelineEvent.action == "测试")).one()
        assert _close(at, start + timedelta(minutes=45))  # the timeline is on the drill's clock
        response.stand_down(session=s, activation_id=act, reason="演练结束")
    with session_scope() as s:
        ended = s.get(Activation, act)
        assert ended is not None and ended.stood_down_at is not None
        assert _close(ended.stood_down_at, start + timedelta(minutes=45))


def test_a_real_response_keeps_the_wall_clock_and_its_clock_cannot_be_moved(db_url: str) -> None:
    act = activate()
    with session_scope() as s:
        assert _close(response.clock(s, act), datetime.now(UTC))
        with pytest.raises(SanqingError, match="only a drill"):
            response.advance_clock(s, act, 60)


def test_without_a_warning_time_a_drill_runs_on_the_wall_clock() -> None:
    assert drill_start(load_plan(), None) is None
    assert drill_start(load_plan(), WarningInfo(identifier="D-2", colour="red")) is None
