"""应撤必撤: a refusal is never the end.

A household that refuses goes up the chain like an unreachable one (first
secretary, then town leader); in a danger zone or at Ⅱ/Ⅰ the step after is 带离,
recorded with who and when.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from sanqing import response
from sanqing.answers import HouseholdRollCall, Others, RollCallStatus, VillageRollCall
from sanqing.db import session_scope
from sanqing.errors import AnswerError
from sanqing.models import Cadre, Escalation, Notice, Relocation, TimelineEvent
from sanqing.plans import Level, load_plan
from tests.unit.test_command import HEBA, SHIMEN, relocate, statuses
from tests.unit.test_response import NOW, activate

OTHERS = ("621221106201", "621221106203", "621221106205", "621221106206")
HOUR = timedelta(minutes=61)  # just over the roll-call period at Ⅱ (60 minutes)


def _roll_call(
    act: str, village: str, answers: list[HouseholdRollCall], reporter: str = ""
) -> None:
    with session_scope() as s:
        response.record_roll_call(
            s,
            activation_id=act,
            roll_calls=[
                VillageRollCall(
                    village=village, households=answers, others=Others.IN_SHELTER, reporter=reporter
                )
            ],
        )


def _escalate(act: str, at: timedelta, level_plan: str = "flood") -> response.EscalationResult:
    with session_scope() as s:
        return response.escalate_unconfirmed(
            s, activation_id=act, plan=load_plan(level_plan), locale="zh-CN", now=NOW + at
        )


def _steps(act: str, household: str) -> list[tuple[str, str | None]]:
    with session_scope() as s:
        rows = s.exec(
            select(Escalation)
            .where(Escalation.activation_id == act, Escalation.household_code == household)
            .order_by(Escalation.at)
        ).all()
        return [(e.kind, e.to_cadre_code) for e in rows]


def _cadre(role: str, village: str | None = None) -> str:
    with session_scope() as s:
        q = select(Cadre.code).where(Cadre.role == role)
        if village:
            q = q.where(Cadre.village_code == village)
        return sorted(s.exec(q).all())[0]


@pytest.fixture
def level_ii() -> tuple[str, str, str]:
    """A Ⅱ response with one refusing household in 石门村 and one unreachable in 河坝村."""
    act = activate(Level.II)
    relocate(act)
    refusing = sorted(statuses(act, SHIMEN))[0]
    unreachable = sorted(statuses(act, HEBA))[0]
    _roll_call(act, SHIMEN, [HouseholdRollCall(household=refusing, status=RollCallStatus.REFUSED)])
    _roll_call(
        act, HEBA, [HouseholdRollCall(household=unreachable, status=RollCallStatus.UNREACHABLE)]
    )
    for v in OTHERS:
        _roll_call(act, v, [])
    return act, refusing, unreachable


def test_a_refusing_household_goes_to_the_secretary_the_leader_then_removal(
    db_url: str, level_ii: tuple[str, str, str]
) -> None:
    act, refusing, unreachable = level_ii
    leader = _cadre("town_leader")
    assert _escalate(act, timedelta(minutes=30)).households == 0  # not overdue yet
    first = _escalate(act, HOUR)
    assert first.households == 2
    assert _steps(act, refusing) == [("roll_call", _cadre("first_secretary", SHIMEN))]
    # one step per roll-call period: nothing more twenty minutes later
    assert _escalate(act, HOUR + timedelta(minutes=20)).households == 0
    second = _escalate(act, 2 * HOUR)
    assert second.households == 2
    assert _steps(act, refusing)[-1] == ("town_leader", leader)
    assert _steps(act, unreachable)[-1] == ("town_leader", leader)
    # 带离 only for the one who refuses; the unreachable household has gone as far as it goes
    third = _escalate(act, 3 * HOUR)
    assert third.households == 1
    assert _steps(act, refusing)[-1] == ("removal", leader)
    assert [k for k, _ in _steps(act, unreachable)] == ["roll_call", "town_leader"]
    assert _escalate(act, 4 * HOUR).households == 0
    with session_scope() as s:
        removal = [
            n
            for n in s.exec(select(Notice).where(Notice.purpose == "escalation"))
            if "带离" in n.body
        ]
        assert {n.channel for n in removal} == {"sms", "task_list"}
        assert all(n.recipient == leader for n in removal)
        events = s.exec(
            select(TimelineEvent.action).where(TimelineEvent.activation_id == act)
        ).all()
        assert "拒不转移户组织带离" in events and "未核实转移户上报镇领导" in events


def test_removal_is_recorded_with_who_and_when(db_url: str, level_ii: tuple[str, str, str]) -> None:
    act, refusing, _ = level_ii
    with pytest.raises(AnswerError) as exc:
        _roll_call(
            act, SHIMEN, [HouseholdRollCall(household=refusing, status=RollCallStatus.REMOVED)]
        )
    assert "第1个村 第1户：已带离须填写带离负责人" in str(exc.value)
    assert statuses(act, SHIMEN)[refusing] == "refused"  # nothing was written
    _roll_call(
        act,
        SHIMEN,
        [HouseholdRollCall(household=refusing, status=RollCallStatus.REMOVED, by="谢虎建")],
    )
    with session_scope() as s:
        r = s.exec(select(Relocation).where(Relocation.household_code == refusing)).one()
        assert r.status == "removed" and r.removed_by == "谢虎建" and r.removed_at is not None
    # removed is accounted for: nobody chases it any more
    _escalate(act, HOUR)
    assert _steps(act, refusing) == []


def test_with_relatives_is_safe_and_never_escalated(
    db_url: str, level_ii: tuple[str, str, str]
) -> None:
    act, _, unreachable = level_ii
    _roll_call(
        act,
        HEBA,
        [HouseholdRollCall(household=unreachable, status=RollCallStatus.WITH_RELATIVES)],
        reporter="河坝村值守",
    )
    assert statuses(act, HEBA)[unreachable] == "with_relatives"
    _escalate(act, HOUR)
    assert _steps(act, unreachable) == []


def test_at_level_iii_outside_a_danger_zone_a_refusal_stops_at_the_town_leader(
    db_url: str,
) -> None:
    act = activate(Level.III)
    relocate(act)
    with session_scope() as s:
        alert = s.exec(
            select(Relocation).where(Relocation.activation_id == act, Relocation.zone == "alert")
        ).first()
    assert alert is not None
    _roll_call(
        act,
        alert.village_code,
        [HouseholdRollCall(household=alert.household_code, status=RollCallStatus.REFUSED)],
    )
    for step in (1, 2, 3):
        _escalate(act, step * timedelta(minutes=91))  # Ⅲ: 90-minute roll call
    assert [k for k, _ in _steps(act, alert.household_code)] == ["roll_call", "town_leader"]
