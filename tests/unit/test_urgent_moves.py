"""三个紧急撤离: danger found, a point that cannot be judged, a danger zone at night never wait.

Households threatened by such a point move at once, at every level, and the
commander is told; the commander's approval governs the planned, wider moves only.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import select

from sanqing import response
from sanqing.answers import ApprovalAnswer
from sanqing.db import session_scope
from sanqing.models import (
    Activation,
    HazardThreat,
    Household,
    InspectionPhase,
    InspectionStatus,
    Notice,
    Relocation,
    TimelineEvent,
    Zone,
)
from sanqing.plans import Level, OnTimeout, PlanDefaults, RelocationScope, Urgent, load_plan
from sanqing.response.threats import movers
from sanqing.rules import relocation as rules
from sanqing.scenarios import FindingInput
from tests.unit.test_response import NOW, activate

SHIMEN_CAVE = "621221106202-Z001"  # 石门洞滑坡, very high risk
NIGHT = datetime(2026, 7, 12, 15, 0, tzinfo=UTC)  # 23:00 in Beijing


def _household(code: str, rating: str = "B") -> Household:
    return Household(
        code=code,
        village_code="V",
        group_name="一社",
        head_name="某",
        members=3,
        address="某村",
        lat=0.0,
        lon=0.0,
        house_type="砖混",
        safety_rating=rating,
    )


def _candidate(reasons: tuple[str, ...], zone: Zone = Zone.DANGER) -> rules.Candidate:
    return rules.Candidate(
        household=_household("H1"),
        zone=zone,
        hazard_codes=("Z1",),
        reasons=reasons,
        vulnerabilities=(),
        max_risk=None,
    )


# --- the rule ---------------------------------------------------------------------------------


def test_danger_and_cannot_judge_are_urgent_day_and_night() -> None:
    every = list(Urgent)
    for reason in (rules.REASON_DANGER_FINDING, rules.REASON_CANNOT_JUDGE):
        assert rules.is_urgent(_candidate((reason,)), bypass=every, night=False)
    assert not rules.is_urgent(_candidate((rules.REASON_HAZARD_RISK,)), bypass=every, night=False)


def test_at_night_the_planned_moves_of_danger_zones_do_not_wait() -> None:
    planned = (rules.REASON_HAZARD_RISK,)
    every = list(Urgent)
    assert rules.is_urgent(_candidate(planned), bypass=every, night=True)
    assert not rules.is_urgent(_candidate(planned, Zone.ALERT), bypass=every, night=True)


def test_a_trigger_the_plan_leaves_out_of_bypass_waits() -> None:
    found = _candidate((rules.REASON_DANGER_FINDING,))
    assert not rules.is_urgent(found, bypass=[Urgent.NIGHT], night=False)
    assert not rules.is_urgent(_candidate((rules.REASON_HAZARD_RISK,)), bypass=[], night=True)


@pytest.mark.parametrize(
    ("local", "night"),
    [
        ("20:00", True),
        ("23:59", True),
        ("00:00", True),
        ("05:59", True),
        ("06:00", False),
        ("12:00", False),
        ("19:59", False),
    ],
)
def test_the_night_wraps_midnight(local: str, night: bool) -> None:
    assert PlanDefaults().is_night(time.fromisoformat(local)) is night


def test_cannot_judge_moves_the_whole_threatened_area_like_danger() -> None:
    hh = [_household("H1"), _household("H2")]
    threats = [
        HazardThreat(hazard_code="Z1", household_code="H1", zone=Zone.DANGER),
        HazardThreat(hazard_code="Z1", household_code="H2", zone=Zone.ALERT),
    ]
    from sanqing.models import HazardPoint

    point = HazardPoint(
        code="Z1",
        village_code="V",
        name="某滑坡",
        kind="landslide",
        risk="low",
        lat=0,
        lon=0,
        description="",
    )
    scope = RelocationScope()  # level IV: nobody moves by default
    assert (
        rules.select_households(households=hh, threats=threats, hazards={"Z1": point}, scope=scope)
        == []
    )
    moved = rules.select_households(
        households=hh,
        threats=threats,
        hazards={"Z1": point},
        scope=scope,
        findings={"Z1": InspectionStatus.CANNOT_JUDGE},
    )
    assert [c.household.code for c in moved] == ["H1", "H2"]
    assert all(c.reasons == (rules.REASON_CANNOT_JUDGE,) for c in moved)


# --- in the database ----------------------------------------------------------------------------


def _find(act: str, status: InspectionStatus, now: datetime = NOW) -> None:
    with session_scope() as s:
        response.inspect_hazards(
            session=s,
            activation_id=act,
            village_code="621221106202",
            phase=InspectionPhase.BEFORE,
            plan=load_plan(),
            findings={SHIMEN_CAVE: FindingInput(hazard=SHIMEN_CAVE, status=status, note="新裂缝")},
            drill=False,
            now=now,
        )


def _relocate(act: str, *, urgent_only: bool, now: datetime = NOW) -> None:
    with session_scope() as s:
        for code in s.get(Activation, act).village_codes:  # type: ignore[union-attr]
            response.plan_relocations(
                session=s,
                activation_id=act,
                village_code=code,
                plan=load_plan(),
                urgent_only=urgent_only,
                now=now,
            )


def _threatened_by_cave() -> set[str]:
    with session_scope() as s:
        return set(
            s.exec(
                select(HazardThreat.household_code).where(HazardThreat.hazard_code == SHIMEN_CAVE)
            )
        )


def _ordered(act: str) -> dict[str, Relocation]:
    with session_scope() as s:
        return {
            r.household_code: r
            for r in s.exec(select(Relocation).where(Relocation.activation_id == act))
        }


@pytest.mark.parametrize("status", [InspectionStatus.DANGER, InspectionStatus.CANNOT_JUDGE])
def test_a_manual_level_iv_start_moves_the_threatened_households_though_the_commander_says_no(
    db_url: str, status: InspectionStatus
) -> None:
    act = activate(Level.IV, warning=None)  # a manual start at IV asks for approval
    _find(act, status)
    with session_scope() as s:
        a = s.get(Activation, act)
        assert a is not None and response.approval_needed(s, act=a, plan=load_plan())
    _relocate(act, urgent_only=True)
    ordered = _ordered(act)
    assert set(ordered) == _threatened_by_cave() and all(r.urgent for r in ordered.values())
    with session_scope() as s:
        assert response.inform_commander(s, activation_id=act, locale="zh-CN") == len(ordered)
        request = response.request_approval(s, activation_id=act, plan=load_plan())
        assert request is not None and f"{len(ordered)}户" in request.question
        response.decide_approval(
            s,
            approval_id=request.approval_id,
            answer=ApprovalAnswer(approve=False, name="指挥长"),
            on_timeout=OnTimeout.HOLD,
        )
    # the "no" holds back nothing that was urgent: the orders stand
    assert set(_ordered(act)) == _threatened_by_cave()
    with session_scope() as s:
        sms = list(s.exec(select(Notice).where(Notice.purpose == "urgent_moves")))
        assert len(sms) == 1 and sms[0].channel == "sms" and f"{len(ordered)}户" in sms[0].body
        told = s.exec(
            select(TimelineEvent).where(
                TimelineEvent.activation_id == act,
                TimelineEvent.action == "紧急撤离情况报告指挥长",
            )
        ).all()
        assert len(told) == 1 and "不等审批" in told[0].detail
        # told once: a second call for the same households adds nothing
        response.inform_commander(s, activation_id=act, locale="zh-CN")
    with session_scope() as s:
        assert len(s.exec(select(Notice).where(Notice.purpose == "urgent_moves")).all()) == 1


def test_by_day_the_planned_moves_wait_for_the_approval(db_url: str) -> None:
    act = activate(Level.II)  # level II: approval always; no danger found yet
    _relocate(act, urgent_only=True)
    assert _ordered(act) == {}
    _relocate(act, urgent_only=False)  # after the approval: the planned moves
    assert _ordered(act) and not any(r.urgent for r in _ordered(act).values())


def test_orders_given_by_day_stay_approved_when_the_run_goes_on_at_night(db_url: str) -> None:
    """The night makes new orders urgent, never rewrites how the day's orders were given."""
    act = activate(Level.II)
    _relocate(act, urgent_only=False)  # by day, after the approval
    day = _ordered(act)
    assert day and not any(r.urgent for r in day.values())
    _relocate(act, urgent_only=True, now=NIGHT)  # a rerun, or the next step, at night
    _relocate(act, urgent_only=False, now=NIGHT)
    assert not any(r.urgent for r in _ordered(act).values())
    with session_scope() as s:  # nobody moved without approval: the commander is not told
        assert response.inform_commander(s, activation_id=act, locale="zh-CN") == 0
    # a danger found later is news: the households it threatens are urgent now
    _find(act, InspectionStatus.DANGER, now=NIGHT)
    _relocate(act, urgent_only=True, now=NIGHT)
    after = _ordered(act)
    assert {h for h, r in after.items() if r.urgent} == _threatened_by_cave()


def test_at_night_the_danger_zones_move_before_the_approval_and_the_alert_zones_wait(
    db_url: str,
) -> None:
    act = activate(Level.II)
    _relocate(act, urgent_only=True, now=NIGHT)
    urgent = _ordered(act)
    assert urgent and {r.zone for r in urgent.values()} == {"danger"}
    assert all(r.urgent for r in urgent.values())
    _relocate(act, urgent_only=False, now=NIGHT + timedelta(minutes=20))
    everyone = _ordered(act)
    assert set(urgent) < set(everyone)
    assert {r.zone for r in everyone.values() if not r.urgent} == {"alert"}


def _may_move_at_once(act: str, now: datetime, plan: Any = None) -> bool:
    with session_scope() as s:
        a = s.get(Activation, act)
        assert a is not None
        return response.may_move_at_once(s, act=a, plan=plan or load_plan(), now=now)


@pytest.mark.parametrize(
    ("finding", "now", "moves"),
    [
        (None, NOW, False),  # by day, nothing found: nobody, and no village is read
        (InspectionStatus.OK, NOW, False),
        (InspectionStatus.WATCH, NOW, False),
        (InspectionStatus.DANGER, NOW, True),
        (InspectionStatus.CANNOT_JUDGE, NOW, True),
        (None, NIGHT, True),  # the danger zones at night
    ],
)
def test_the_quick_check_before_the_urgent_pass_agrees_with_the_pass(
    db_url: str, finding: InspectionStatus | None, now: datetime, moves: bool
) -> None:
    """The urgent pass reads no village when the check says nobody can move: it must
    never say so when the rule would move someone at once."""
    act = activate(Level.II)
    if finding is not None:
        _find(act, finding, now=now)
    assert _may_move_at_once(act, now) is moves
    assert _urgent_by_the_rule(act, now) is moves
    _relocate(act, urgent_only=True, now=now)
    assert bool(_ordered(act)) is moves


def _urgent_by_the_rule(act: str, now: datetime) -> bool:
    """Whether any household the level moves is urgent now, every village read."""
    plan = load_plan()
    with session_scope() as s:
        a = s.get(Activation, act)
        assert a is not None
        night = plan.defaults.is_night(now.astimezone(response.local_tz()).time())
        bypass = plan.level(a.level).approval.bypass
        return any(
            rules.is_urgent(c, bypass=bypass, night=night)
            for c in movers(s, act=a, plan=plan, village_codes=a.village_codes)
        )


def test_the_quick_check_follows_the_plans_bypass(db_url: str) -> None:
    act = activate(Level.II)
    _find(act, InspectionStatus.DANGER)
    plan = load_plan()
    level = plan.level(Level.II)
    night_only = level.approval.model_copy(update={"bypass": [Urgent.NIGHT]})
    narrowed = plan.model_copy(
        update={
            "levels": plan.levels | {Level.II: level.model_copy(update={"approval": night_only})}
        }
    )
    assert _may_move_at_once(act, NOW, narrowed) is False  # a danger found waits, by this plan
    assert _may_move_at_once(act, NIGHT, narrowed) is True
    assert _may_move_at_once(act, NOW) is True
