"""Pending decisions follow their warning's chain (sanqing/feeds/decide.py, watch.py).

A decision stored without being carried out (``warnings ingest`` without
``--respond``, a failed run) must not outlive the warning it was taken on: an
update supersedes it, a cancel or all-clear withdraws it, and it is checked
again just before it is carried out. Between steps the tests do what the watch
does with a decision (``carry_out_pending``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

import pytest
from sqlmodel import select

from sanqing import response
from sanqing.db import session_scope
from sanqing.feeds import store
from sanqing.feeds.model import Action, Decision, FeedWarning, Reference, SourceFormat
from sanqing.feeds.watch import (
    Pending,
    expired_responses,
    left_alone,
    mark_done,
    pending_decisions,
    why_not_carried_out,
)
from sanqing.models import Activation, ActivationStatus, FeedRecord
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.warning import WarningInfo

NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)
SENDER = "621221000000"
TOWN = "621221106"
SHIMEN, HEBA = "621221106202", "621221106204"


def w(identifier: str, **kw: Any) -> FeedWarning:
    base: dict[str, Any] = {
        "identifier": identifier,
        "sender": SENDER,
        "sent": NOW - timedelta(minutes=5),
        "source_format": SourceFormat.CAP,
        "msg_type": "Alert",
        "status": "Actual",
        "event": "暴雨橙色预警",
        "hazard": "rainstorm",
        "colour": "orange",
        "expires": NOW + timedelta(hours=12),
        "geocodes": [("行政区划代码", SHIMEN), ("行政区划代码", HEBA)],
    }
    return FeedWarning(**(base | kw))


def ref(identifier: str) -> Reference:
    return Reference(sender=SENDER, identifier=identifier, sent=NOW - timedelta(minutes=5))


def rid(identifier: str) -> str:
    return f"{SENDER}|{identifier}"


ORANGE = w("A-1")
RED = w("U-1", msg_type="Update", colour="red", event="暴雨红色预警", references=[ref("A-1")])
CANCEL = w("C-1", msg_type="Cancel", colour=None, geocodes=[], references=[ref("A-1"), ref("U-1")])
ALL_CLEAR = w("U-9", msg_type="Update", response_types=["AllClear"], references=[ref("U-1")])
#: A cancel that names only the update: the alert belongs to its chain through the update.
CANCEL_OF_UPDATE = w("C-2", msg_type="Cancel", colour=None, geocodes=[], references=[ref("U-1")])


@pytest.fixture
def plan(db_url: str) -> Plan:
    ensure_registry("jifeng")
    return load_plan()


def ingest(warning: FeedWarning, plan: Plan, now: datetime = NOW) -> Decision:
    with session_scope() as s:
        return store.ingest(session=s, warning=warning, plan=plan, now=now)


def pending(now: datetime = NOW) -> list[Pending]:
    with session_scope() as s:
        return pending_decisions(session=s, now=now)


def carry_out(p: Pending, plan: Plan) -> str | None:
    """What the watch does with a pending decision (without Prefect); marks it done."""
    dec = p.decision
    with session_scope() as s:
        act_id: str | None = None
        if dec.action in (Action.ACTIVATE, Action.ESCALATE):
            assert dec.level is not None and p.warning.colour is not None
            info = WarningInfo(
                identifier=p.warning.identifier,
                colour=p.warning.colour,
                village_codes=dec.village_codes,
            )
            act_id = response.activate_plan(
                session=s,
                town=find_town(s, TOWN),
                plan=plan,
                level=dec.level,
                warning=info,
                drill=dec.drill,
                now=NOW,
            ).activation_id
        else:
            act = response.open_activation(s, town_code=TOWN, plan=plan.plan, drill=dec.drill)
            if act is not None and left_alone(act, p.targets) is not None:
                act = None  # not the response it was decided for (as the watch does)
            if act is not None and dec.action == Action.STAND_DOWN:
                response.stand_down(session=s, activation_id=act.id, reason="解除", now=NOW)
                act_id = act.id
        mark_done(session=s, record_id=p.record_id, activation_id=act_id)
    return act_id


def carry_out_pending(plan: Plan) -> list[str | None]:
    out = []
    for p in pending():
        with session_scope() as s:
            if why_not_carried_out(session=s, record_id=p.record_id, now=NOW) is not None:
                continue
        out.append(carry_out(p, plan))
    return out


def activations() -> list[Activation]:
    with session_scope() as s:
        return list(s.exec(select(Activation)))


def records() -> dict[str, FeedRecord]:
    with session_scope() as s:
        return {r.id: r for r in s.exec(select(FeedRecord))}


def test_orange_red_update_and_cancel_ingested_without_respond_start_nothing(plan: Plan) -> None:
    assert ingest(ORANGE, plan).action == Action.ACTIVATE
    assert ingest(RED, plan).action == Action.ACTIVATE  # nothing runs yet: it would start one
    assert ingest(CANCEL, plan).action == Action.IGNORE
    assert pending() == []
    carry_out_pending(plan)
    assert activations() == []
    recs = records()
    for identifier in ("A-1", "U-1"):  # the history stays, marked withdrawn with the reason
        rec = recs[rid(identifier)]
        assert rec.action == "activate" and rec.done and rec.activation_id is None
        assert "withdrawn" in rec.reason
    assert "U-1" in recs[rid("A-1")].reason  # superseded by the update
    assert "C-1" in recs[rid("U-1")].reason  # withdrawn by the cancel


def test_orange_then_its_red_update_is_one_activation_at_level_one(plan: Plan) -> None:
    ingest(ORANGE, plan)
    ingest(RED, plan)
    (p,) = pending()
    assert p.record_id == rid("U-1") and p.decision.level == "I"
    carry_out_pending(plan)
    (act,) = activations()
    assert act.level == "I" and act.status == ActivationStatus.ACTIVE
    assert "superseded" in records()[rid("A-1")].reason


def test_an_all_clear_of_a_chain_never_carried_out_withdraws_it(plan: Plan) -> None:
    ingest(ORANGE, plan)
    ingest(RED, plan)
    assert ingest(ALL_CLEAR, plan).action == Action.IGNORE
    assert pending() == []
    assert "U-9" in records()[rid("U-1")].reason


@pytest.mark.parametrize("end", [CANCEL, ALL_CLEAR], ids=["cancel", "all-clear"])
def test_a_response_carried_out_is_stood_down_by_its_cancel(plan: Plan, end: FeedWarning) -> None:
    ingest(ORANGE, plan)
    carry_out_pending(plan)
    ingest(RED, plan)  # an escalation of the running response: carried out
    carry_out_pending(plan)
    (act,) = activations()
    assert act.level == "I"
    assert ingest(end, plan).action == Action.STAND_DOWN
    (p,) = pending()
    assert p.record_id == rid(end.identifier)
    carry_out_pending(plan)
    (act,) = activations()
    assert act.status == ActivationStatus.STOOD_DOWN


def test_a_pending_escalation_is_withdrawn_by_the_cancel_and_the_stand_down_stays(
    plan: Plan,
) -> None:
    ingest(ORANGE, plan)
    carry_out_pending(plan)
    assert ingest(RED, plan).action == Action.ESCALATE  # not carried out
    assert ingest(CANCEL, plan).action == Action.STAND_DOWN
    assert [p.record_id for p in pending()] == [rid("C-1")]
    carry_out_pending(plan)
    (act,) = activations()
    assert act.level == "II" and act.status == ActivationStatus.STOOD_DOWN


def test_a_decision_read_before_its_cancel_is_checked_again_and_not_carried_out(
    plan: Plan,
) -> None:
    ingest(ORANGE, plan)
    (p,) = pending()  # the watch read it ...
    ingest(CANCEL, plan)  # ... and a cancel came in (another process) before it ran
    with session_scope() as s:
        why = why_not_carried_out(session=s, record_id=p.record_id, now=NOW)
    assert why is not None and "C-1" in why
    assert records()[rid("A-1")].done


def test_a_stored_start_whose_warning_ended_is_not_pending(plan: Plan) -> None:
    """Records stored before chains were followed: ended, yet still marked to do."""
    ingest(ORANGE, plan)
    with session_scope() as s:
        rec = s.get(FeedRecord, rid("A-1"))
        assert rec is not None
        rec.ended = True
        s.add(rec)
    assert pending() == []
    rec = records()[rid("A-1")]
    assert rec.done and "ended" in rec.reason


def test_an_expired_start_is_not_carried_out_either(plan: Plan) -> None:
    ingest(ORANGE, plan)
    (p,) = pending()
    with session_scope() as s:
        why = why_not_carried_out(session=s, record_id=p.record_id, now=NOW + timedelta(days=1))
    assert why is not None and "expired" in why


@pytest.mark.parametrize("end", [RED, CANCEL], ids=["update", "cancel"])
def test_an_alert_arriving_after_its_update_or_cancel_starts_nothing(
    plan: Plan, end: FeedWarning
) -> None:
    """An index that lists the newest message first: the update or cancel is read first."""
    ingest(end, plan)
    dec = ingest(ORANGE, plan)
    assert dec.action == Action.IGNORE and end.identifier in dec.reason
    carry_out_pending(plan)
    acts = activations()
    if end is RED:  # the update acts like an alert of its own, at its level: one activation
        (act,) = acts
        assert act.level == "I"
    else:
        assert acts == []


def test_a_response_whose_warnings_were_cancelled_ends_when_the_stand_down_was_lost(
    plan: Plan,
) -> None:
    ingest(ORANGE, plan)
    carry_out_pending(plan)
    assert ingest(CANCEL, plan).action == Action.STAND_DOWN
    with session_scope() as s:  # the stand-down was marked done but never happened
        mark_done(session=s, record_id=rid("C-1"), activation_id=None)
    with session_scope() as s:
        assert expired_responses(session=s, plan=plan, now=NOW) == [(TOWN, False)]
    (act,) = activations()
    with session_scope() as s:  # the watch asks for the stand-down: patrol gate opens
        response.request_stand_down(s, activation_id=act.id, plan=plan, reason="预警已取消")
    with session_scope() as s:  # asked once: not asked again while the patrol is awaited
        assert expired_responses(session=s, plan=plan, now=NOW) == []


def test_a_manual_start_after_cancelled_warnings_is_left_to_the_commander(plan: Plan) -> None:
    ingest(ORANGE, plan)
    carry_out_pending(plan)
    ingest(CANCEL, plan)
    carry_out_pending(plan)
    with session_scope() as s:
        response.activate_plan(
            session=s,
            town=find_town(s, TOWN),
            plan=plan,
            level=Level.IV,
            warning=None,
            drill=False,
            now=NOW + timedelta(days=1),
        )
    with session_scope() as s:
        assert expired_responses(session=s, plan=plan, now=NOW + timedelta(days=1)) == []


ENDS = pytest.mark.parametrize(
    "end", [CANCEL_OF_UPDATE, ALL_CLEAR], ids=["cancel-of-update", "all-clear-of-update"]
)
ORDERS = pytest.mark.parametrize("order", list(permutations("AUE")), ids="".join)


@ENDS
@ORDERS
def test_in_no_order_of_arrival_does_a_chain_start_after_its_end_when_carried_out_later(
    plan: Plan, end: FeedWarning, order: tuple[str, ...]
) -> None:
    """Alert A, its update U, and an end E that names only U, ingested in any order
    (an index listing the newest first gives E, U, A), then carried out: nothing starts."""
    messages = {"A": ORANGE, "U": RED, "E": end}
    for key in order:
        ingest(messages[key], plan)
    assert pending() == []
    carry_out_pending(plan)
    assert activations() == []
    alert = records()[rid("A-1")]
    assert alert.done and alert.activation_id is None


@ENDS
@ORDERS
def test_in_no_order_of_arrival_does_a_chain_start_after_its_end_when_carried_out_at_once(
    plan: Plan, end: FeedWarning, order: tuple[str, ...]
) -> None:
    """Carried out after each arrival (the watch): once the end is in and linked to the
    alert (the update is in too), nothing starts, and at the end nothing runs.

    Only an alert that comes before the update links it to the end (E, A, U) can start a
    response: the update, when it comes, stands it down.
    """
    messages = {"A": ORANGE, "U": RED, "E": end}
    seen: set[str] = set()
    for key in order:
        ingest(messages[key], plan)
        seen.add(key)
        before = {a.id for a in activations()}
        carry_out_pending(plan)
        started = [a.id for a in activations() if a.id not in before]
        if {"U", "E"} <= seen:
            assert started == [], f"started after the end was known: {started}"
    assert [a.id for a in activations() if a.status == ActivationStatus.ACTIVE] == []
    assert pending() == []


def test_an_update_that_ties_a_running_response_to_an_earlier_cancel_stands_it_down(
    plan: Plan,
) -> None:
    """The cancel names only the update; the alert came before the update and started."""
    assert ingest(CANCEL_OF_UPDATE, plan).action == Action.IGNORE  # names nothing known yet
    ingest(ORANGE, plan)
    carry_out_pending(plan)
    (act,) = activations()
    dec = ingest(RED, plan)
    assert dec.action == Action.STAND_DOWN and "C-2" in dec.reason and act.id in dec.reason
    assert records()[rid("A-1")].ended
    carry_out_pending(plan)
    (act,) = activations()
    assert act.status == ActivationStatus.STOOD_DOWN


YELLOW = w("U-2", msg_type="Update", colour="yellow", event="暴雨黄色预警", references=[ref("A-1")])


@pytest.mark.parametrize(
    ("then", "action"),
    [(CANCEL, Action.STAND_DOWN), (YELLOW, Action.DOWNGRADE)],
    ids=["stand-down", "downgrade"],
)
def test_a_stand_down_or_downgrade_keeps_the_activation_it_was_decided_for(
    plan: Plan, then: FeedWarning, action: Action
) -> None:
    ingest(ORANGE, plan)
    assert records()[rid("A-1")].targets is None  # a start has none
    carry_out_pending(plan)
    (x,) = activations()
    assert ingest(then, plan).action == action
    (p,) = pending()
    assert p.targets == [x.id] and records()[p.record_id].targets == [x.id]
    with session_scope() as s:
        response.stand_down(session=s, activation_id=x.id, reason="指挥长解除", now=NOW)
        y = response.activate_plan(
            session=s,
            town=find_town(s, TOWN),
            plan=plan,
            level=Level.III,
            warning=None,
            drill=False,
            now=NOW + timedelta(hours=1),
        ).activation_id
    with session_scope() as s:
        act, old = s.get(Activation, y), s.get(Activation, x.id)
        assert act is not None and old is not None
        why = left_alone(act, p.targets)
        assert why is not None and y in why and x.id in why
        assert left_alone(old, p.targets) is None
        assert left_alone(act, None) is None  # a record from before targets: any open one
