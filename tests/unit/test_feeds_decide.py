"""The decision on each warning (sanqing/feeds/decide.py), over the sample town's registry.

Between steps the tests do what the caller (the watch) does with a decision:
``activate``/``escalate`` run ``activate_plan``, ``downgrade`` lowers the level,
``stand_down`` stands the activation down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from sanqing import response
from sanqing.db import session_scope
from sanqing.feeds import chains, decide, store
from sanqing.feeds.model import Action, Decision, FeedWarning, Reference, SourceFormat
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


@pytest.fixture
def plan(db_url: str) -> Plan:
    ensure_registry("jifeng")
    return load_plan()


def ingest(warning: FeedWarning, plan: Plan, now: datetime = NOW) -> Decision:
    with session_scope() as s:
        return store.ingest(session=s, warning=warning, plan=plan, now=now)


def carry_out(decision: Decision, warning: FeedWarning, plan: Plan) -> str | None:
    """What the caller does with a decision; returns the activation it acted on."""
    drill = decision.drill
    with session_scope() as s:
        town = find_town(s, TOWN)
        if decision.action in (Action.ACTIVATE, Action.ESCALATE):
            assert decision.level is not None and warning.colour is not None
            info = WarningInfo(
                identifier=warning.identifier,
                hazard=warning.hazard or "rainstorm",
                colour=warning.colour,
                status=warning.status,
                village_codes=decision.village_codes,
            )
            return response.activate_plan(
                session=s,
                town=town,
                plan=plan,
                level=decision.level,
                warning=info,
                drill=drill,
                now=NOW,
            ).activation_id
        act = response.open_activation(s, town_code=TOWN, plan=plan.plan, drill=drill)
        if act is None:
            return None
        if decision.action == Action.DOWNGRADE:
            assert decision.level is not None
            act.level = decision.level.value
            s.add(act)
        elif decision.action == Action.STAND_DOWN:
            response.stand_down(session=s, activation_id=act.id, reason="解除", now=NOW)
        return act.id


def activation(act_id: str) -> Activation:
    with session_scope() as s:
        act = s.get(Activation, act_id)
        assert act is not None
        return act


def records() -> dict[str, FeedRecord]:
    with session_scope() as s:
        return {r.id: r for r in s.exec(select(FeedRecord))}


def test_the_lifecycle_alert_update_to_red_back_to_yellow_and_cancel(plan: Plan) -> None:
    alert = w("A-1")
    first = ingest(alert, plan)
    assert first.action == Action.ACTIVATE
    assert first.level == Level.II
    assert first.town_codes == [TOWN]
    assert first.village_codes == [SHIMEN, HEBA]  # the covered villages only
    act_id = carry_out(first, alert, plan)
    assert act_id is not None
    assert activation(act_id).village_codes == [SHIMEN, HEBA]

    # the same warning again changes nothing and is not stored twice
    again = ingest(w("A-1"), plan)
    assert again.action == Action.DUPLICATE
    assert again.village_codes == [SHIMEN, HEBA]
    assert list(records()) == [f"{SENDER}|A-1"]

    red = w("U-1", msg_type="Update", colour="red", event="暴雨红色预警", references=[ref("A-1")])
    up = ingest(red, plan)
    assert up.action == Action.ESCALATE
    assert up.level == Level.I
    assert "from level II to I" in up.reason
    assert carry_out(up, red, plan) == act_id  # the same activation, raised
    assert activation(act_id).level == "I"

    yellow = w("U-2", msg_type="Update", colour="yellow", references=[ref("U-1")])
    down = ingest(yellow, plan)
    assert down.action == Action.DOWNGRADE
    assert down.level == Level.III
    assert carry_out(down, yellow, plan) == act_id
    assert activation(act_id).level == "III"

    cancel = w("C-1", msg_type="Cancel", colour=None, geocodes=[], references=[ref("U-2")])
    end = ingest(cancel, plan)
    assert end.action == Action.STAND_DOWN
    assert end.town_codes == [TOWN]
    assert end.village_codes == [SHIMEN, HEBA]
    carry_out(end, cancel, plan)
    assert activation(act_id).status == ActivationStatus.STOOD_DOWN
    recs = records()
    # the whole chain has ended: the cancelled update, what it superseded, and the cancel
    assert all(recs[f"{SENDER}|{i}"].ended for i in ("A-1", "U-1", "U-2", "C-1"))
    assert recs[f"{SENDER}|C-1"].action == "stand_down"

    # a cancel seen again is a duplicate
    assert ingest(cancel, plan).action == Action.DUPLICATE


def test_an_all_clear_update_stands_down(plan: Plan) -> None:
    alert = w("A-1")
    act_id = carry_out(ingest(alert, plan), alert, plan)
    clear = w("U-9", msg_type="Update", response_types=["AllClear"], references=[ref("A-1")])
    dec = ingest(clear, plan)
    assert dec.action == Action.STAND_DOWN
    assert dec.town_codes == [TOWN]
    assert act_id is not None
    carry_out(dec, clear, plan)
    assert activation(act_id).status == ActivationStatus.STOOD_DOWN
    assert records()[f"{SENDER}|A-1"].ended


def test_a_cancel_of_an_unknown_warning_is_ignored(plan: Plan) -> None:
    dec = ingest(w("C-7", msg_type="Cancel", references=[ref("NEVER")]), plan)
    assert dec.action == Action.IGNORE
    assert "never received" in dec.reason
    assert ingest(w("C-8", msg_type="Cancel"), plan).action == Action.IGNORE


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"status": "Draft"}, "Draft"),
        ({"status": "System"}, "System"),
        ({"expires": NOW - timedelta(minutes=1)}, "expired"),
        ({"hazard": "heat", "event": "高温橙色预警"}, "hazard 'heat'"),
        ({"hazard": None, "event": "大风蓝色预警"}, "大风蓝色预警"),
        ({"colour": None}, "colour"),
        ({"geocodes": [("行政区划代码", "110101")]}, "covers no village in the registry"),
        ({"msg_type": "Ack"}, "Ack"),
    ],
)
def test_warnings_that_start_nothing_are_recorded_and_ignored(
    plan: Plan, kw: dict[str, Any], why: str
) -> None:
    dec = ingest(w("X-1", **kw), plan)
    assert dec.action == Action.IGNORE
    assert why in dec.reason
    assert dec.town_codes == []
    rec = records()[f"{SENDER}|X-1"]
    assert rec.action == "ignore" and why in rec.reason
    with session_scope() as s:
        assert s.exec(select(Activation)).first() is None


def test_an_exercise_is_a_drill_and_says_so(plan: Plan) -> None:
    drill = w("E-1", status="Exercise")
    dec = ingest(drill, plan)
    assert dec.action == Action.ACTIVATE
    assert dec.reason.startswith("drill (Exercise)")
    act_id = carry_out(dec, drill, plan)
    assert act_id is not None and activation(act_id).drill
    # a real warning for the same town is not absorbed by the drill
    real = ingest(w("A-1"), plan)
    assert real.action == Action.ACTIVATE
    assert "drill" not in real.reason
    # the drill's update escalates the drill
    up = ingest(
        w("E-2", status="Exercise", msg_type="Update", colour="red", references=[ref("E-1")]), plan
    )
    assert up.action == Action.ESCALATE and up.reason.startswith("drill")
    assert act_id in up.reason


def test_a_second_alert_for_the_town_never_opens_a_second_activation(plan: Plan) -> None:
    first = w("A-1")  # orange for 石门村 and 河坝村
    act_id = carry_out(ingest(first, plan), first, plan)

    same = w("A-2", geocodes=[("行政区划代码", SHIMEN)])  # orange again, a village already in
    dec = ingest(same, plan)
    assert dec.action == Action.IGNORE
    assert "same level II" in dec.reason and "continues" in dec.reason

    wider = w("A-3", geocodes=[("行政区划代码", "621221106206")])  # orange, a new village
    dec = ingest(wider, plan)
    assert dec.action == Action.ESCALATE and "widens" in dec.reason
    assert carry_out(dec, wider, plan) == act_id
    assert "621221106206" in activation(act_id).village_codes

    milder = w("A-4", colour="yellow")  # a new, milder alert does not lower the response
    dec = ingest(milder, plan)
    assert dec.action == Action.IGNORE
    assert activation(act_id).level == "II"

    red = w("A-5", colour="red", geocodes=[("行政区划代码", SHIMEN)])
    dec = ingest(red, plan)
    assert dec.action == Action.ESCALATE
    assert carry_out(dec, red, plan) == act_id
    with session_scope() as s:
        assert len(s.exec(select(Activation)).all()) == 1

    # cancelling the first alert leaves the response running: A-5 (red) still holds it
    cancel = w("C-1", msg_type="Cancel", references=[ref("A-1")])
    dec = ingest(cancel, plan)
    assert dec.action == Action.IGNORE
    assert "A-5" in dec.reason
    assert activation(act_id).status == ActivationStatus.ACTIVE
    # cancelling the red one brings the response down to what the others still need (II)
    dec = ingest(w("C-5", msg_type="Cancel", references=[ref("A-5")]), plan)
    assert dec.action == Action.DOWNGRADE
    assert dec.level == Level.II


def test_an_update_of_an_unknown_warning_acts_like_an_alert(plan: Plan) -> None:
    dec = ingest(w("U-1", msg_type="Update", colour="red", references=[ref("GONE")]), plan)
    assert dec.action == Action.ACTIVATE
    assert dec.level == Level.I


def test_a_county_warning_activates_only_the_registered_villages(plan: Plan) -> None:
    dec = ingest(w("A-9", geocodes=[("行政区划代码", "621221")]), plan)
    assert dec.action == Action.ACTIVATE
    assert dec.town_codes == [TOWN]
    assert dec.village_codes == [f"{TOWN}{n}" for n in range(201, 207)]


def test_decide_writes_nothing(plan: Plan) -> None:
    with session_scope() as s:
        dec = decide.decide(session=s, warning=w("A-1"), plan=plan, now=NOW)
    assert dec.action == Action.ACTIVATE
    assert records() == {}
    with session_scope() as s, pytest.raises(ValueError, match="naive"):
        decide.decide(session=s, warning=w("A-1"), plan=plan, now=NOW.replace(tzinfo=None))


def test_a_warning_without_sender_is_keyed_by_identifier(plan: Plan) -> None:
    ingest(w("Q-1", sender="", source_format=SourceFormat.QWEATHER_V1), plan)
    assert "Q-1" in records()
    assert ingest(w("Q-1", sender=""), plan).action == Action.DUPLICATE


def test_a_rejection_is_recorded_once_and_does_not_hide_a_good_warning(plan: Plan) -> None:
    with session_scope() as s:
        rec = store.record_rejection(
            session=s, source="feeds/bad.xml", identifier="A-1", reason="DTD refused", now=NOW
        )
        assert rec.action == "reject" and rec.reason == "DTD refused"
    with session_scope() as s:
        store.record_rejection(
            session=s, source="feeds/bad.xml", identifier="A-1", reason="DTD refused", now=NOW
        )
        store.record_rejection(
            session=s, source="feeds/index.xml", identifier=None, reason="not XML", now=NOW
        )
    assert sum(r.action == "reject" for r in records().values()) == 2
    assert ingest(w("A-1"), plan).action == Action.ACTIVATE


def test_a_superseded_warning_no_longer_holds_a_level(plan: Plan) -> None:
    a1 = w("A-1")  # orange: II
    act_id = carry_out(ingest(a1, plan), a1, plan)
    u1 = w("U-1", msg_type="Update", colour="yellow", references=[ref("A-1")])
    dec = ingest(u1, plan)
    assert dec.action == Action.DOWNGRADE and dec.level == Level.III
    carry_out(dec, u1, plan)
    b1 = w("B-1", colour="red")  # another event: I
    dec = ingest(b1, plan)
    assert dec.action == Action.ESCALATE
    carry_out(dec, b1, plan)
    b2 = w("B-2", msg_type="Update", colour="blue", references=[ref("B-1")])
    dec = ingest(b2, plan)
    # U-1 (yellow, III) still needs III; the orange A-1 it superseded no longer counts
    assert dec.action == Action.DOWNGRADE
    assert "to III" in dec.reason
    carry_out(dec, b2, plan)
    assert act_id is not None and activation(act_id).level == "III"


def open_act(drill: bool, plan: Plan) -> Activation | None:
    with session_scope() as s:
        return response.open_activation(s, town_code=TOWN, plan=plan.plan, drill=drill)


def test_decisions_say_whether_they_concern_drills(plan: Plan) -> None:
    exercise = w("E-1", status="Exercise")
    dec = ingest(exercise, plan)
    assert dec.drill and dec.action == Action.ACTIVATE
    drill_id = carry_out(dec, exercise, plan)
    real = w("A-1")
    dec = ingest(real, plan)
    assert not dec.drill and dec.action == Action.ACTIVATE
    real_id = carry_out(dec, real, plan)
    assert drill_id != real_id
    assert ingest(w("X-1", status="Exercise", colour=None), plan).drill  # an ignore too

    # an Actual cancel of the exercise stands down the drill, never the real response
    cancel = w("C-1", msg_type="Cancel", colour=None, geocodes=[], references=[ref("E-1")])
    end = ingest(cancel, plan)
    assert end.action == Action.STAND_DOWN
    assert end.drill and end.reason.startswith("drill (Exercise)")
    assert carry_out(end, cancel, plan) == drill_id
    assert drill_id is not None and real_id is not None
    assert activation(drill_id).status == ActivationStatus.STOOD_DOWN
    assert activation(real_id).status == ActivationStatus.ACTIVE
    # and an Exercise cancel of the real alert concerns the real response
    ex_cancel = w("C-2", status="Exercise", msg_type="Cancel", references=[ref("A-1")])
    end = ingest(ex_cancel, plan)
    assert not end.drill and not end.reason.startswith("drill")
    # a duplicate keeps the flag of what it repeats
    assert ingest(cancel, plan).drill


def test_a_cancel_of_a_chain_mixing_drill_and_real_acts_on_its_own_kind(plan: Plan) -> None:
    exercise = w("E-1", status="Exercise")
    drill_id = carry_out(ingest(exercise, plan), exercise, plan)
    real = w("U-1", msg_type="Update", references=[ref("E-1")])  # a real update of a drill
    dec = ingest(real, plan)
    assert dec.action == Action.ACTIVATE and not dec.drill
    real_id = carry_out(dec, real, plan)
    cancel = w("C-1", msg_type="Cancel", colour=None, geocodes=[], references=[ref("U-1")])
    end = ingest(cancel, plan)
    assert end.action == Action.STAND_DOWN and not end.drill
    assert "mixes drill and real" in end.reason
    assert carry_out(end, cancel, plan) == real_id
    assert drill_id is not None and real_id is not None
    assert activation(real_id).status == ActivationStatus.STOOD_DOWN
    assert activation(drill_id).status == ActivationStatus.ACTIVE


def test_records_are_pending_until_carried_out_and_rebuild_their_decision(plan: Plan) -> None:
    alert = w("A-1", status="Exercise")
    dec = ingest(alert, plan)
    ignored = ingest(w("X-1", colour=None), plan)
    recs = records()
    rec = recs[f"{SENDER}|A-1"]
    assert rec.done is False
    assert recs[f"{SENDER}|X-1"].done is True
    assert chains.decision_of(rec) == dec
    assert chains.decision_of(recs[f"{SENDER}|X-1"]) == ignored
    carry_out(dec, alert, plan)
    cancel = w("C-1", msg_type="Cancel", colour=None, geocodes=[], references=[ref("A-1")])
    end = ingest(cancel, plan)
    assert end.action == Action.STAND_DOWN and end.drill
    rec = records()[f"{SENDER}|C-1"]
    assert rec.done is False
    assert chains.decision_of(rec) == end


def test_a_record_keeps_its_drill_flag_in_a_column_and_old_records_in_their_reason(
    plan: Plan,
) -> None:
    drill = ingest(w("A-1", status="Exercise"), plan)
    real = ingest(w("B-1"), plan)
    recs = records()
    assert drill.drill and recs[f"{SENDER}|A-1"].drill is True
    assert not real.drill and recs[f"{SENDER}|B-1"].drill is False
    with session_scope() as s:  # the reason no longer decides: the column does
        rec = s.get(FeedRecord, f"{SENDER}|A-1")
        assert rec is not None
        rec.reason = "reworded by hand"
        s.add(rec)
    assert chains.decision_of(records()[f"{SENDER}|A-1"]).drill is True
    with session_scope() as s:  # as a release before the column stored them
        s.execute(text("UPDATE feedrecord SET drill = NULL"))
    old = records()
    assert chains.decision_of(old[f"{SENDER}|B-1"]) == real
    assert chains.decision_of(old[f"{SENDER}|A-1"]).drill is False  # its reason was reworded
    assert chains.decision_of(
        old[f"{SENDER}|A-1"].model_copy(update={"reason": drill.reason})
    ).drill


def test_an_ignored_update_does_not_supersede_what_it_references(plan: Plan) -> None:
    alert = w("A-1")
    carry_out(ingest(alert, plan), alert, plan)
    dec = ingest(w("U-1", msg_type="Update", colour=None, references=[ref("A-1")]), plan)
    assert dec.action == Action.IGNORE
    with session_scope() as s:
        held = chains.holders(s, town_code=TOWN, drill=False, now=NOW)
        assert [r.id for r in held] == [f"{SENDER}|A-1"]
    # an update that holds the town does supersede it
    ingest(w("U-2", msg_type="Update", colour="red", references=[ref("A-1")]), plan)
    with session_scope() as s:
        held = chains.holders(s, town_code=TOWN, drill=False, now=NOW)
        assert [r.id for r in held] == [f"{SENDER}|U-2"]


def test_a_repeat_from_another_location_feed_widens_the_response(plan: Plan) -> None:
    def q(*codes: str) -> FeedWarning:
        return w(
            "Q-1",
            sender="",
            source_format=SourceFormat.QWEATHER_V1,
            geocodes=[("行政区划代码", c) for c in codes],
        )

    first = q(SHIMEN)
    dec = ingest(first, plan)
    assert dec.action == Action.ACTIVATE and dec.village_codes == [SHIMEN]
    act_id = carry_out(dec, first, plan)
    second = q(HEBA)
    dec = ingest(second, plan)
    assert dec.action == Action.ESCALATE and "widens" in dec.reason
    assert dec.village_codes == [SHIMEN, HEBA]
    assert carry_out(dec, second, plan) == act_id
    assert act_id is not None and activation(act_id).village_codes == [SHIMEN, HEBA]
    recs = records()
    assert list(recs) == ["Q-1"]  # one record per warning, updated in place
    rec = recs["Q-1"]
    assert rec.village_codes == [SHIMEN, HEBA] and rec.town_codes == [TOWN]
    assert rec.action == "escalate" and rec.done is False
    assert [g[1] for g in rec.warning["geocodes"]] == [SHIMEN, HEBA]
    assert chains.decision_of(rec) == dec
    # nothing new: a duplicate again
    assert ingest(q(HEBA), plan).action == Action.DUPLICATE
    assert ingest(q(SHIMEN, HEBA), plan).action == Action.DUPLICATE
