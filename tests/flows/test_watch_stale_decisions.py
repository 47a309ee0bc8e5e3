"""A pending stand-down or downgrade acts only on the response it was decided for.

The cancel's stand-down fails this poll; the commander stands the response down by
hand and starts a new one; the next poll carries the old decision out
(flows/rain_watch.carry_out): it must leave the new response alone, mark the decision
done with a reason that says so, and log it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from sanqing import response
from sanqing.db import session_scope
from sanqing.feeds import store
from sanqing.feeds.model import Action, FeedWarning, Reference, SourceFormat
from sanqing.feeds.watch import Pending, mark_done, pending_decisions
from sanqing.models import Activation, ActivationStatus, FeedRecord
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.warning import WarningInfo

if TYPE_CHECKING:
    from flows.rain_watch import CarriedOut

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]

NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)
SENDER = "621221000000"
TOWN = "621221106"


def w(identifier: str, **kw: object) -> FeedWarning:
    base: dict[str, object] = {
        "identifier": identifier,
        "sender": SENDER,
        "sent": NOW - timedelta(minutes=5),
        "source_format": SourceFormat.CAP,
        "msg_type": "Alert",
        "status": "Actual",
        "hazard": "rainstorm",
        "colour": "orange",
        "expires": NOW + timedelta(hours=12),
        "geocodes": [("行政区划代码", "621221106202")],
    }
    return FeedWarning.model_validate(base | kw)


REF_A = Reference(sender=SENDER, identifier="A-1", sent=NOW - timedelta(minutes=5))
ORANGE = w("A-1")
CANCEL = w("C-1", msg_type="Cancel", colour=None, geocodes=[], references=[REF_A])
YELLOW = w("U-2", msg_type="Update", colour="yellow", references=[REF_A])


@pytest.fixture
def plan(db_url: str) -> Plan:
    ensure_registry("jifeng")
    return load_plan()


@pytest.fixture
def watch_log() -> Iterator[list[str]]:
    """What the watch logs (prefect.sanqing.watch), as text."""
    import flows.rain_watch  # noqa: F401 - its imports set Prefect's logging up again (handlers go)

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("prefect.sanqing.watch")
    handler = Keep(level=logging.INFO)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def carry_out_in_a_flow(p: Pending) -> CarriedOut:
    """What the watch does with a pending decision, inside its flow run."""
    from prefect import flow

    from flows.rain_watch import carry_out

    @flow(name="carry-out")
    def run() -> CarriedOut:
        return carry_out(p, plan="flood", locale="zh-CN", now=NOW)

    return run()


def activate(plan: Plan, warning: WarningInfo | None, level: Level, now: datetime) -> str:
    with session_scope() as s:
        return response.activate_plan(
            session=s,
            town=find_town(s, TOWN),
            plan=plan,
            level=level,
            warning=warning,
            drill=False,
            now=now,
        ).activation_id


@pytest.mark.parametrize(
    ("then", "action"),
    [(CANCEL, Action.STAND_DOWN), (YELLOW, Action.DOWNGRADE)],
    ids=["stand-down", "downgrade"],
)
def test_a_stale_decision_leaves_a_response_opened_since_alone(
    plan: Plan, watch_log: list[str], then: FeedWarning, action: Action
) -> None:
    with session_scope() as s:
        store.ingest(session=s, warning=ORANGE, plan=plan, now=NOW)
    x = activate(plan, WarningInfo(identifier="A-1", colour="orange"), Level.II, NOW)
    with session_scope() as s:
        mark_done(session=s, record_id=f"{SENDER}|A-1", activation_id=x)
    with session_scope() as s:  # carrying this out fails this poll: it stays pending
        assert store.ingest(session=s, warning=then, plan=plan, now=NOW).action == action
    with session_scope() as s:  # the commander ends it by hand, and starts anew
        response.stand_down(session=s, activation_id=x, reason="指挥长解除", now=NOW)
    y = activate(plan, None, Level.III, NOW + timedelta(hours=1))
    assert y != x
    with session_scope() as s:
        (p,) = pending_decisions(session=s, now=NOW)

    done = carry_out_in_a_flow(p)

    assert done.activations == [] and done.skipped is not None and y in done.skipped
    with session_scope() as s:
        new = s.get(Activation, y)
        assert new is not None and new.status == ActivationStatus.ACTIVE and new.level == "III"
        assert response.patrol_state(s, y)["requested"] is False  # no patrol gate opened on it
        rec = s.get(FeedRecord, p.record_id)
        assert rec is not None and rec.done and "not carried out" in rec.reason and y in rec.reason
        assert pending_decisions(session=s, now=NOW) == []
    assert any(y in line and "not carried out" in line for line in watch_log), watch_log


def test_a_pending_stand_down_still_ends_the_response_it_was_decided_for(
    plan: Plan, watch_log: list[str]
) -> None:
    with session_scope() as s:
        store.ingest(session=s, warning=ORANGE, plan=plan, now=NOW)
    x = activate(plan, WarningInfo(identifier="A-1", colour="orange"), Level.II, NOW)
    with session_scope() as s:
        mark_done(session=s, record_id=f"{SENDER}|A-1", activation_id=x)
    with session_scope() as s:
        assert (
            store.ingest(session=s, warning=CANCEL, plan=plan, now=NOW).action == Action.STAND_DOWN
        )
    with session_scope() as s:
        (p,) = pending_decisions(session=s, now=NOW)

    done = carry_out_in_a_flow(p)

    assert done.activations == [x] and done.skipped is None and done.left_alone == []
    with session_scope() as s:
        assert response.patrol_state(s, x)["requested"] is True  # waits for the patrol
        rec = s.get(FeedRecord, p.record_id)
        assert rec is not None and rec.done and "not carried out" not in rec.reason
