"""People in the loop (sanqing/response/: approval, rollcall, escalation, patrol): approval, roll call, escalation, patrol gate."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlmodel import select

from sanqing import reporting, response
from sanqing.answers import (
    ApprovalAnswer,
    HouseholdRollCall,
    Others,
    PatrolAnswer,
    RollCallStatus,
    VillageRollCall,
)
from sanqing.db import session_scope
from sanqing.errors import AnswerError
from sanqing.models import (
    Activation,
    Approval,
    Cadre,
    Escalation,
    Household,
    Inspection,
    InspectionPhase,
    Notice,
    Relocation,
    TimelineEvent,
)
from sanqing.plans import Level, OnTimeout, load_plan
from tests.unit.test_response import NOW, WARNING, activate

SHIMEN = "621221106202"  # 石门村
HEBA = "621221106204"  # 河坝村


def relocate(act: str) -> None:
    plan = load_plan()
    with session_scope() as s:
        for code in s.get(Activation, act).village_codes:  # type: ignore[union-attr]
            response.plan_relocations(
                session=s, activation_id=act, village_code=code, plan=plan, now=NOW
            )
        response.assign_town_shelters(session=s, activation_id=act, plan=plan, now=NOW)


def statuses(act: str, village: str) -> dict[str, str]:
    with session_scope() as s:
        return {
            r.household_code: r.status
            for r in s.exec(
                select(Relocation).where(
                    Relocation.activation_id == act, Relocation.village_code == village
                )
            )
        }


def events(act: str) -> list[TimelineEvent]:
    with session_scope() as s:
        return list(s.exec(select(TimelineEvent).where(TimelineEvent.activation_id == act)))


# --- approval -------------------------------------------------------------------------------


def test_level_ii_from_a_warning_needs_approval_and_the_answer_is_recorded(db_url: str) -> None:
    act = activate(Level.II)
    with session_scope() as s:
        req = response.request_approval(s, activation_id=act, plan=load_plan(), now=NOW)
        assert req is not None and req.level == "II"
        assert req.timeout_s == 30 * 60 and req.on_timeout == OnTimeout.PROCEED
        assert "转移审批" in req.question and "二级应急响应" in req.question
        assert "人工启动" not in req.reason
    with session_scope() as s:
        decision = response.decide_approval(
            s,
            approval_id=req.approval_id,
            answer=ApprovalAnswer(approve=True, name="王镇长", remarks="电话13912345678同意"),
            on_timeout=req.on_timeout,
            now=NOW,
        )
    assert decision.moves
    with session_scope() as s:
        row = s.get(Approval, req.approval_id)
        assert row is not None and (row.decision, row.approver) == ("approved", "王镇长")
        assert "13912345678" not in row.remarks  # remarks are masked before storage
        # approved at II: a re-run at II asks nothing
        assert response.request_approval(s, activation_id=act, plan=load_plan()) is None
    assert any(e.action == "批准转移" and e.actor == "王镇长" for e in events(act))


def test_level_iii_from_a_warning_needs_none_but_a_manual_start_does(db_url: str) -> None:
    act = activate(Level.III)
    with session_scope() as s:
        assert response.request_approval(s, activation_id=act, plan=load_plan()) is None
        response.stand_down(session=s, activation_id=act, reason="解除")
    manual = activate(Level.III, warning=None)
    with session_scope() as s:
        req = response.request_approval(s, activation_id=manual, plan=load_plan())
        assert req is not None and "人工启动" in req.reason
        assert req.on_timeout == OnTimeout.HOLD
        # no answer in time: the plan holds the move orders
        d = response.decide_approval(
            s, approval_id=req.approval_id, answer=None, on_timeout=req.on_timeout
        )
        assert d.value == "timeout_held" and not d.moves


def test_the_first_decision_wins_and_an_escalation_asks_again(db_url: str) -> None:
    act = activate(Level.II)
    with session_scope() as s:
        req = response.request_approval(s, activation_id=act, plan=load_plan())
        assert req is not None
        assert not response.decide_approval(
            s,
            approval_id=req.approval_id,
            answer=ApprovalAnswer(approve=False, name="王镇长"),
            on_timeout=req.on_timeout,
        ).moves
        # a late timeout (or a second click) changes nothing
        again = response.decide_approval(
            s, approval_id=req.approval_id, answer=None, on_timeout=OnTimeout.PROCEED
        )
        assert again.value == "rejected"
        # rejected: the next run asks again (a new request, not the old one)
        second = response.request_approval(s, activation_id=act, plan=load_plan())
        assert second is not None and second.approval_id != req.approval_id
        response.decide_approval(
            s,
            approval_id=second.approval_id,
            answer=ApprovalAnswer(approve=True, name="王镇长"),
            on_timeout=second.on_timeout,
        )
        response.set_level(session=s, activation_id=act, level=Level.I, reason="红色预警")
        # approved at II does not cover I
        third = response.request_approval(s, activation_id=act, plan=load_plan())
        assert third is not None and third.level == "I" and third.timeout_s == 15 * 60


def test_an_unattended_timeout_is_marked_in_the_timeline(db_url: str) -> None:
    act = activate(Level.I)
    with session_scope() as s:
        req = response.request_approval(s, activation_id=act, plan=load_plan())
        assert req is not None
        d = response.decide_approval(
            s, approval_id=req.approval_id, answer=None, on_timeout=req.on_timeout, unattended=True
        )
        assert d.value == "timeout_proceeded" and d.moves
    (ev,) = [e for e in events(act) if "审批超时" in e.action]
    assert "无人值守" in ev.detail


# --- roll call ------------------------------------------------------------------------------


def test_a_roll_call_with_exceptions_marks_the_rest_as_reported(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    before = statuses(act, SHIMEN)
    first, second, *_ = sorted(before)
    with session_scope() as s:
        head = s.get(Household, second).head_name  # type: ignore[union-attr]
        result = response.record_roll_call(
            s,
            activation_id=act,
            roll_calls=[
                VillageRollCall(
                    village="石门村",
                    households=[
                        HouseholdRollCall(household=first, status=RollCallStatus.REFUSED),
                        HouseholdRollCall(household=head, status=RollCallStatus.UNREACHABLE),
                    ],
                    others=Others.MOVED,
                )
            ],
        )
    after = statuses(act, SHIMEN)
    assert after[first] == "refused" and after[second] == "unreachable"
    assert {v for k, v in after.items() if k not in (first, second)} == {"moved"}
    assert result.villages[SHIMEN] == {"refused": 1, "unreachable": 1, "moved": len(before) - 2}
    # other villages were not touched
    assert set(statuses(act, HEBA).values()) == {"ordered"}
    # the timeline has counts, never a name
    (ev,) = [e for e in events(act) if e.action == "点名回报"]
    assert "拒绝转移1户" in ev.detail and head not in ev.detail
    # its id hashes the counts by their text, as releases before the enum columns did: the
    # same roll call sent again after an upgrade is the same event, not a second one
    counts = sorted({"moved": len(before) - 2, "refused": 1, "unreachable": 1}.items())
    digest = hashlib.sha1(repr(counts).encode()).hexdigest()[:10]
    assert ev.id == f"{act}:roll-call:{SHIMEN}:{digest}"


def test_a_bad_roll_call_names_every_problem_and_records_nothing(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    with session_scope() as s:
        some = sorted(statuses(act, HEBA))[0]
        with pytest.raises(AnswerError) as err:
            response.record_roll_call(
                s,
                activation_id=act,
                roll_calls=[
                    VillageRollCall(
                        village="河坝村",
                        households=[
                            HouseholdRollCall(household=some, status=RollCallStatus.MOVED),
                            HouseholdRollCall(household="查无此人", status=RollCallStatus.MOVED),
                        ],
                    ),
                    VillageRollCall(village="不存在村"),
                ],
            )
    text = str(err.value)
    assert "第1个村 第2户" in text and "查无此人" not in text  # position, not name
    assert "第2个村" in text and "不存在村" in text and "villages[" not in text
    assert set(statuses(act, HEBA).values()) == {"ordered"}  # the good part was not kept either


def test_a_head_name_shared_by_two_households_asks_for_the_code(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    codes = sorted(statuses(act, HEBA))
    with session_scope() as s:
        for c in codes[:2]:
            h = s.get(Household, c)
            assert h is not None
            h.head_name = "同名人"
            s.add(h)
    with session_scope() as s, pytest.raises(AnswerError, match="重名"):
        response.record_roll_call(
            s,
            activation_id=act,
            roll_calls=[
                VillageRollCall(
                    village=HEBA,
                    households=[HouseholdRollCall(household="同名人", status=RollCallStatus.MOVED)],
                    others=Others.UNCONFIRMED,
                )
            ],
        )


def test_in_shelter_without_a_place_counts_as_moved_and_never_downgrades(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    with session_scope() as s:
        rel = s.exec(select(Relocation).where(Relocation.village_code == HEBA)).first()
        assert rel is not None
        rel.shelter_code, code = None, rel.household_code
        s.add(rel)
    with session_scope() as s:
        response.record_roll_call(
            s,
            activation_id=act,
            roll_calls=[VillageRollCall(village=HEBA, others=Others.IN_SHELTER)],
        )
    after = statuses(act, HEBA)
    with session_scope() as s:
        placed = {
            r.household_code
            for r in s.exec(select(Relocation).where(Relocation.village_code == HEBA))
            if r.shelter_code
        }
    assert after[code] == "moved" and code not in placed
    assert {h for h, st in after.items() if st == "in_shelter"} == placed
    with session_scope() as s:  # a later "moved" keeps those in shelter there
        response.record_roll_call(
            s, activation_id=act, roll_calls=[VillageRollCall(village=HEBA, others=Others.MOVED)]
        )
    assert statuses(act, HEBA) == after


# --- escalation -----------------------------------------------------------------------------


def test_unconfirmed_households_go_to_the_first_secretary_once(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    plan = load_plan()
    unreachable = sorted(statuses(act, HEBA))[0]
    with session_scope() as s:
        response.record_roll_call(
            s,
            activation_id=act,
            roll_calls=[
                VillageRollCall(
                    village=HEBA,
                    households=[
                        HouseholdRollCall(household=unreachable, status=RollCallStatus.UNREACHABLE)
                    ],
                )
            ]
            + [
                VillageRollCall(village=c, others=Others.MOVED)
                for c in ("621221106201", "621221106203", "621221106205", "621221106206")
            ],
        )
    # not overdue yet (II: 60 minutes after the order)
    with session_scope() as s:
        r = response.escalate_unconfirmed(
            s, activation_id=act, plan=plan, locale="zh-CN", now=NOW + timedelta(minutes=30)
        )
        assert r.households == 0
    with session_scope() as s:
        r = response.escalate_unconfirmed(
            s, activation_id=act, plan=plan, locale="zh-CN", now=NOW + timedelta(minutes=61)
        )
    shimen = statuses(act, SHIMEN)
    assert r.households == len(shimen) + 1 and r.villages == 2
    with session_scope() as s:
        esc = list(s.exec(select(Escalation)))
        secretaries = {
            c.village_code: c for c in s.exec(select(Cadre).where(Cadre.role == "first_secretary"))
        }
        assert {e.to_cadre_code for e in esc if e.village_code == HEBA} == {secretaries[HEBA].code}
        notices = list(s.exec(select(Notice).where(Notice.purpose == "escalation")))
        assert {(n.channel, n.recipient) for n in notices} == {
            (ch, secretaries[v].code) for ch in ("sms", "task_list") for v in (HEBA, SHIMEN)
        }
        heba_list = next(n for n in notices if n.village_code == HEBA and n.channel == "task_list")
        head = s.get(Household, unreachable).head_name  # type: ignore[union-attr]
        assert head in heba_list.body and "联系不上" in heba_list.body
        sms = next(n for n in notices if n.village_code == HEBA and n.channel == "sms")
        assert head not in sms.body and sms.address == secretaries[HEBA].phone
        # once: a second pass escalates nobody again
        again = response.escalate_unconfirmed(
            s, activation_id=act, plan=plan, locale="zh-CN", now=NOW + timedelta(minutes=90)
        )
        assert again.households == 0
        figures = reporting.summarize(session=s, activation_id=act)
    assert figures["households_escalated"] == r.households
    assert figures["households_unreachable"] == 1
    assert figures["households_unconfirmed"] == len(shimen)


def test_a_village_without_a_first_secretary_escalates_to_the_town_leader(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    with session_scope() as s:
        for c in s.exec(
            select(Cadre).where(Cadre.village_code == HEBA, Cadre.role == "first_secretary")
        ):
            c.role = "village_cadre"
            s.add(c)
    with session_scope() as s:
        response.escalate_unconfirmed(
            s, activation_id=act, plan=load_plan(), locale="zh-CN", overdue_only=False
        )
        leader = s.exec(
            select(Cadre).where(Cadre.role == "town_leader").order_by(Cadre.code)
        ).first()
        esc = {
            e.to_cadre_code
            for e in s.exec(select(Escalation).where(Escalation.village_code == HEBA))
        }
    assert leader is not None and esc == {leader.code}


# --- after-rain patrol gate -----------------------------------------------------------------


def test_the_stand_down_waits_for_the_after_rain_patrol(db_url: str) -> None:
    act = activate(Level.II)
    plan = load_plan()
    with session_scope() as s:
        assert not response.request_stand_down(s, activation_id=act, plan=plan, reason="预警解除")
        # every hazard point got an after-rain check
        after = list(s.exec(select(Inspection).where(Inspection.phase == InspectionPhase.AFTER)))
        villages = s.get(Activation, act).village_codes  # type: ignore[union-attr]
        assert len(after) == 45 and {i.village_code for i in after} == set(villages)
        assert s.get(Activation, act).status == "active"  # type: ignore[union-attr]
        # asking again does not open a second gate
        assert not response.request_stand_down(s, activation_id=act, plan=plan, reason="预警解除")
    with session_scope() as s:
        with pytest.raises(AnswerError, match="请只选其一"):
            response.confirm_patrol(
                s,
                activation_id=act,
                plan=plan,
                answer=PatrolAnswer(all_clear=True, name="巡查组", dangers=["石门洞滑坡"]),
            )
        # danger remains: the response goes on
        assert not response.confirm_patrol(
            s,
            activation_id=act,
            plan=plan,
            answer=PatrolAnswer(all_clear=False, name="巡查组", dangers=["石门洞滑坡"]),
        )
        assert s.get(Activation, act).status == "active"  # type: ignore[union-attr]
    with session_scope() as s:
        assert response.confirm_patrol(
            s, activation_id=act, plan=plan, answer=PatrolAnswer(all_clear=True, name="巡查组")
        )
        assert s.get(Activation, act).status == "stood_down"  # type: ignore[union-attr]
    actions = [e.action for e in events(act)]
    assert "待雨后巡查确认后结束响应" in actions and "雨后巡查仍有险情" in actions
    assert actions.count("结束应急响应") == 1


@pytest.mark.parametrize("early_all_clear", [True, False])
def test_a_patrol_reported_before_the_stand_down_request_does_not_count(
    db_url: str, early_all_clear: bool
) -> None:
    act = activate(Level.III)
    plan = load_plan()
    early = PatrolAnswer(
        all_clear=early_all_clear,
        name="巡查组",
        dangers=[] if early_all_clear else ["石门洞滑坡"],
    )
    with session_scope() as s:  # during the rain: recorded, but no stand-down was asked for
        assert not response.confirm_patrol(s, activation_id=act, plan=plan, answer=early)
    with session_scope() as s:  # the warning is lifted: the gate opens now, checks assigned
        assert not response.end_response(
            s, activation_id=act, plan=plan, reason="预警解除", locale="zh-CN"
        )
        after = s.exec(select(Inspection).where(Inspection.phase == InspectionPhase.AFTER)).all()
        assert len(after) == 45 and {i.status for i in after} == {"assigned"}
    with session_scope() as s:  # the after-rain patrol's all-clear ends it, with 终报
        assert response.record_patrol(
            s,
            activation_id=act,
            plan=plan,
            answer=PatrolAnswer(all_clear=True, name="巡查组"),
            locale="zh-CN",
        )
        kinds = [r["kind"] for r in reporting.summarize(session=s, activation_id=act)["reports"]]
    assert kinds == ["final"]


def test_a_rejection_stands_when_the_next_request_is_not_answered(db_url: str) -> None:
    act = activate(Level.II)
    with session_scope() as s:
        first = response.request_approval(s, activation_id=act, plan=load_plan())
        assert first is not None
        response.decide_approval(
            s,
            approval_id=first.approval_id,
            answer=ApprovalAnswer(approve=False, name="王镇长"),
            on_timeout=first.on_timeout,
        )
        again = response.request_approval(s, activation_id=act, plan=load_plan())
        assert again is not None and again.on_timeout == OnTimeout.PROCEED
        # level II proceeds on a timeout, but not over the commander's "no"
        d = response.decide_approval(
            s, approval_id=again.approval_id, answer=None, on_timeout=again.on_timeout
        )
        assert d.value == "timeout_held"
    assert any("维持指挥长不批准" in e.action for e in events(act))


def test_a_manual_start_confirmed_by_a_warning_answers_to_the_warning(db_url: str) -> None:
    manual = activate(Level.III, warning=None)
    assert activate(Level.III, warning=WARNING) == manual  # the warning continues it
    with session_scope() as s:
        act = s.get(Activation, manual)
        assert act is not None and act.warning_identifier == "W-1"
        # level III from a warning needs no approval
        assert response.request_approval(s, activation_id=manual, plan=load_plan()) is None


def test_a_refused_roll_call_never_repeats_what_was_typed(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    with session_scope() as s, pytest.raises(AnswerError) as err:
        response.record_roll_call(
            s,
            activation_id=act,
            roll_calls=[
                VillageRollCall(
                    village=HEBA,
                    households=[HouseholdRollCall(household="张三丰", status=RollCallStatus.MOVED)],
                )
            ],
        )
    assert "张三丰" not in str(err.value) and "第1个村 第1户" in str(err.value)


def test_a_drill_script_for_another_level_falls_back_to_everyone_in_shelter(db_url: str) -> None:
    act = activate(Level.II)
    relocate(act)
    with session_scope() as s:
        result = response.simulate_roll_call(
            s,
            activation_id=act,
            listed=[
                VillageRollCall(
                    village="河坝村",
                    households=[
                        HouseholdRollCall(household="查无此人", status=RollCallStatus.REFUSED)
                    ],
                )
            ],
        )
    assert result.unconfirmed == 0
    with session_scope() as s:
        placed = {
            r.household_code: "in_shelter" if r.shelter_code else "moved"  # no place: moved
            for r in s.exec(select(Relocation).where(Relocation.village_code == HEBA))
        }
    assert statuses(act, HEBA) == placed
    assert any(e.action == "演练脚本点名不适用" for e in events(act))


def test_a_plan_without_the_patrol_requirement_stands_down_at_once(
    db_url: str,
) -> None:
    act = activate(Level.III)
    plan = load_plan().model_copy(
        update={
            "defaults": load_plan().defaults.model_copy(
                update={"after_rain_patrol_required": False}
            )
        }
    )
    with session_scope() as s:
        assert response.request_stand_down(s, activation_id=act, plan=plan, reason="预警解除")


def test_the_approval_question_says_how_far_the_inspection_got_and_who_would_move(
    db_url: str,
) -> None:
    act = activate(Level.II)
    with session_scope() as s:
        req = response.request_approval(s, activation_id=act, plan=load_plan(), now=NOW)
    assert req is not None
    # no point inspected yet: not "no danger found"
    assert "隐患排查：尚未排查（已排查0处/共" in req.question and "险情：无" not in req.question
    relocate(act)  # what the plan then orders is what the commander was told
    with session_scope() as s:
        rels = s.exec(select(Relocation).where(Relocation.activation_id == act)).all()
    assert rels and f"批准后需转移：{len(rels)}户{sum(r.people for r in rels)}人" in req.question
    vulnerable = sum(1 for r in rels if r.vulnerabilities)
    assert f"重点人群{vulnerable}户" in req.question
