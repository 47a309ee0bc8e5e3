"""Where the warning lifecycle meets the town's response (found in review).

A warning that joined a response ends with it; a cancel recorded after the watch
handed a decision on still stops the response from opening; a new warning while
the stand-down waits for the patrol withdraws the stand-down; nobody is chased
or put on a call list for a response that has ended.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from sanqing import response
from sanqing.answers import PatrolAnswer
from sanqing.db import session_scope
from sanqing.delivery.acknowledge import chase
from sanqing.delivery.fallback import fallback_unreached
from sanqing.feeds.liveness import warning_gone
from sanqing.feeds.model import FeedWarning
from sanqing.feeds.watch import why_not_carried_out
from sanqing.models import Notice, NoticeStatus, Patrol
from sanqing.outbox import notices
from sanqing.plans import Level, Plan
from sanqing.registry import find_town
from sanqing.warning import WarningInfo
from tests.unit.test_feeds_lifecycle import (  # the lifecycle's own warnings and fixture
    CANCEL,
    NOW,
    ORANGE,
    TOWN,
    ingest,
    pending,
    plan,
    w,
)

__all__ = ["plan"]  # the fixture, imported for these tests


def info(fw: FeedWarning) -> WarningInfo:
    assert fw.colour is not None
    return WarningInfo(identifier=fw.identifier, sender=fw.sender, colour=fw.colour)


def start(
    plan: Plan, warning: WarningInfo | None, level: Level = Level.II, minutes: int = 0
) -> response.ActivationResult:
    with session_scope() as s:
        return response.activate_plan(
            session=s,
            town=find_town(s, TOWN),
            plan=plan,
            level=level,
            warning=warning,
            drill=False,
            now=NOW + timedelta(minutes=minutes),
        )


def end(act: response.ActivationResult) -> None:
    with session_scope() as s:
        response.stand_down(session=s, activation_id=act.activation_id, reason="解除", now=NOW)


def test_a_warning_that_joined_a_response_ends_with_it(plan: Plan) -> None:
    manual = start(plan, None)
    joined = start(plan, info(ORANGE))  # the warning confirms the manual start
    assert joined.activation_id == manual.activation_id
    second = start(plan, info(w("B-1", colour="red")), level=Level.I)  # rides along
    assert second.activation_id == manual.activation_id
    end(manual)
    for warning in (info(ORANGE), info(w("B-1", colour="red"))):
        again = start(plan, warning, minutes=5)  # a rerun of that warning's flow
        assert again.activation_id == manual.activation_id
        assert not again.open and not again.created


def test_a_cancel_recorded_after_the_hand_off_still_wins(plan: Plan) -> None:
    """The watch checked the decision; the cancel lands before the response opens."""
    ingest(ORANGE, plan)
    (p,) = pending()
    with session_scope() as s:
        assert why_not_carried_out(session=s, record_id=p.record_id, now=NOW) is None
    ingest(CANCEL, plan)  # while the run is handed to a worker
    with session_scope() as s:
        why = warning_gone(session=s, sender=ORANGE.sender, identifier=ORANGE.identifier)
    assert why is not None and CANCEL.identifier in why
    # a warning no feed gave (a manual or a scenario warning) is never "gone"
    with session_scope() as s:
        assert warning_gone(session=s, sender="", identifier="SCENARIO-1") is None


def test_a_new_warning_withdraws_a_stand_down_waiting_for_the_patrol(plan: Plan) -> None:
    act = start(plan, info(ORANGE))
    with session_scope() as s:
        assert not response.request_stand_down(
            s, activation_id=act.activation_id, plan=plan, reason="预警解除", now=NOW
        )
    red = start(plan, info(w("B-9", colour="red")), level=Level.I, minutes=10)
    assert red.activation_id == act.activation_id and red.open and red.level == "I"
    with session_scope() as s:
        patrol = s.get(Patrol, act.activation_id)
        assert patrol is not None and patrol.reason == ""
        # the patrol's all-clear no longer ends a response the red warning needs
        done = response.confirm_patrol(
            s,
            activation_id=act.activation_id,
            plan=plan,
            answer=PatrolAnswer(all_clear=True, name="张三", dangers=[], remarks=""),
            now=NOW + timedelta(minutes=20),
        )
    assert not done
    with session_scope() as s:  # the gate opens again when the stand-down is asked again
        assert (
            response.request_stand_down(
                s, activation_id=act.activation_id, plan=plan, reason="红色预警解除", now=NOW
            )
            is False
        )
        assert response.end_response(
            s,
            activation_id=act.activation_id,
            plan=plan,
            reason="红色预警解除",
            locale="zh-CN",
            simulated_patrol=PatrolAnswer(all_clear=True, name="张三", dangers=[], remarks=""),
        )


def test_nobody_is_chased_or_called_for_a_response_that_ended(plan: Plan) -> None:
    act = start(plan, info(ORANGE), level=Level.I)
    for code in act.village_codes:
        with session_scope() as s:
            response.plan_relocations(
                session=s, activation_id=act.activation_id, village_code=code, plan=plan
            )
        with session_scope() as s:
            notices.issue_notices(
                session=s,
                activation_id=act.activation_id,
                village_code=code,
                plan=plan,
                locale="zh-CN",
            )
    with session_scope() as s:  # tasks sent and unanswered for hours; resident SMS failed
        s.execute(
            update(Notice)
            .where(col(Notice.channel).in_(["task_list", "phone_call"]))
            .values(status=NoticeStatus.SENT, sent_at=NOW - timedelta(hours=3))
        )
        s.execute(
            update(Notice)
            .where(col(Notice.channel) == "sms", col(Notice.audience) == "resident")
            .values(status=NoticeStatus.FAILED)
        )
    with session_scope() as s:  # while it runs, both would write (the test's control)
        before = chase(s, activation_id=act.activation_id, plan=plan, now=NOW + timedelta(hours=1))
        s.rollback()
    assert before.resent + before.forwarded > 0
    end(act)
    with session_scope() as s:
        r = chase(s, activation_id=act.activation_id, plan=plan, now=NOW + timedelta(hours=1))
        n = fallback_unreached(
            s, activation_id=act.activation_id, locale="zh-CN", now=NOW + timedelta(hours=1)
        )
    assert (r.resent, r.forwarded, n) == (0, 0, 0)
    with session_scope() as s:
        assert s.exec(select(Notice).where(Notice.status == NoticeStatus.PENDING)).all() == []
