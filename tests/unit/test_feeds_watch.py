"""The watch's domain side (sanqing/feeds/watch.py): expiry ends the response it held."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, update
from sqlmodel import select

from sanqing import response
from sanqing.db import get_engine, session_scope
from sanqing.feeds.model import FeedWarning, ParseFailure, ParseResult
from sanqing.feeds.store import ingest
from sanqing.feeds.watch import expired_responses, ingest_results
from sanqing.models import FeedRecord, Town
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.warning import WarningInfo

NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)


def warning(identifier: str, expires: datetime) -> FeedWarning:
    return FeedWarning(
        identifier=identifier,
        sender="S",
        sent=NOW,
        source_format="cap",
        msg_type="Alert",
        status="Actual",
        hazard="rainstorm",
        colour="orange",
        expires=expires,
        geocodes=[("行政区划代码", "621221106202")],
    )


def test_when_every_warning_holding_a_response_expired_it_is_stood_down(db_url: str) -> None:
    ensure_registry("jifeng")
    w = warning("W-EXP", NOW + timedelta(hours=6))
    plan = load_plan()
    with session_scope() as s:
        assert ingest(session=s, warning=w, plan=plan, now=NOW).action == "activate"
        response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=plan,
            level=Level.II,
            warning=WarningInfo(identifier="W-EXP", colour="orange"),
            drill=False,
            now=NOW,
        )
    with session_scope() as s:  # still in force
        assert expired_responses(session=s, plan=plan, now=NOW + timedelta(hours=1)) == []
    with session_scope() as s:
        assert expired_responses(session=s, plan=plan, now=NOW + timedelta(hours=7)) == [
            ("621221106", False)
        ]
    with session_scope() as s:
        assert all(r.ended for r in s.exec(select(FeedRecord)))
        # not stood down yet (the stand-down failed): asked again at the next poll ...
        assert expired_responses(session=s, plan=plan, now=NOW + timedelta(hours=8)) == [
            ("621221106", False)
        ]
        act = response.open_activation(s, town_code="621221106", plan=plan.plan, drill=False)
        assert act is not None
        # ... and no more once the stand-down is asked for (the after-rain patrol decides)
        response.request_stand_down(s, activation_id=act.id, plan=plan, reason="预警已过期")
    with session_scope() as s:
        assert expired_responses(session=s, plan=plan, now=NOW + timedelta(hours=9)) == []


def test_a_refused_document_is_recorded_beside_the_good_warnings(db_url: str) -> None:
    ensure_registry("jifeng")
    results = [
        ParseResult(
            warnings=[warning("W-OK", NOW + timedelta(hours=6))],
            failures=[ParseFailure(source="feed.xml", reason="feed.xml: XML refused: a DTD")],
        )
    ]
    with session_scope() as s:
        decided = ingest_results(session=s, results=results, plan=load_plan(), now=NOW)
    assert [x.decision.action for x in decided] == ["activate", "reject"]
    assert decided[1].failure is not None and decided[1].failure.source == "feed.xml"
    with session_scope() as s:
        actions = sorted(r.action for r in s.exec(select(FeedRecord)))
    assert actions == ["activate", "reject"]


def test_a_warning_that_cannot_be_stored_is_rejected_alone_and_the_next_ingest_works(
    db_url: str,
) -> None:
    """One poisoned warning in a batch (past the model's checks) never loses the others."""
    ensure_registry("jifeng")
    # model_construct: as if a parser let a time through that overflows once stored in UTC
    poisoned = warning("W-BAD", NOW).model_copy(
        update={"expires": datetime.fromisoformat("9999-12-31T23:59:59-23:59")}
    )
    batch = [ParseResult(warnings=[poisoned, warning("W-OK", NOW + timedelta(hours=6))])]
    with session_scope() as s:
        decided = ingest_results(session=s, results=batch, plan=load_plan(), now=NOW)
    assert [x.decision.action for x in decided] == ["reject", "activate"]
    assert "W-BAD" in decided[0].decision.reason and "stored" in decided[0].decision.reason
    with session_scope() as s:
        stored = {r.identifier: r for r in s.exec(select(FeedRecord))}
    assert stored["W-OK"].action == "activate" and not stored["W-OK"].done
    assert stored["W-BAD"].action == "reject" and "Overflow" in stored["W-BAD"].reason
    later = [ParseResult(warnings=[warning("W-NEXT", NOW + timedelta(hours=6))])]
    with session_scope() as s:  # the next poll still works
        assert ingest_results(session=s, results=later, plan=load_plan(), now=NOW)[0].warning


def test_a_nul_character_in_a_json_warning_is_refused_and_stored_as_a_reject(
    db_url: str,
) -> None:
    """JSON may carry U+0000, which PostgreSQL cannot store: refused alone, on every backend."""
    import json

    from sanqing.feeds.parse import parse_document
    from sanqing.settings import REPO_ROOT

    path = REPO_ROOT / "tests" / "data" / "feeds" / "qweather" / "v1_current.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["alerts"][0]["id"] = "20260712183000621221001\x00"
    doc["alerts"][1]["headline"] = "成县气象台\x00发布暴雨红色预警"
    result = parse_document(json.dumps(doc).encode(), source="q.json", area_codes=["621221106"])
    assert {f.identifier for f in result.failures} >= {
        "20260712183000621221001\x00",
        "20260712213000621221002",
    }
    ensure_registry("jifeng")
    with session_scope() as s:
        decided = ingest_results(session=s, results=[result], plan=load_plan(), now=NOW)
    assert sum(d.decision.action == "reject" for d in decided) == len(result.failures)
    with session_scope() as s:
        stored = list(s.exec(select(FeedRecord)))
    assert all("\x00" not in r.identifier + r.reason for r in stored)
    assert len(stored) == len(decided)


#: How long the other writer goes on holding its transaction once the ingest writes.
OTHER_WRITER_HOLDS_S = 0.5


def test_an_ingest_waits_for_another_writer_and_then_succeeds(db_url: str) -> None:
    """Another connection (the outbox, a response step) holds a write transaction while a
    batch is ingested: the ingest waits for it (busy timeout) and stores everything.

    On SQLite a savepoint begins a deferred transaction: reads first pinned a snapshot
    that the other writer's commit made stale, and the first INSERT failed at once with
    "database is locked" (SQLITE_BUSY_SNAPSHOT; no busy wait helps).
    """
    ensure_registry("jifeng")
    plan = load_plan()
    batch = [ParseResult(warnings=[warning(f"W-{i}", NOW + timedelta(hours=6)) for i in range(3)])]
    engine = get_engine()
    writes = threading.Event()

    def spot(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == "ingest" and statement.lstrip().upper().startswith(
            ("INSERT", "UPDATE")
        ):
            writes.set()  # the ingest is about to write (or to wait for the write lock)

    outcome: dict[str, Any] = {}

    def run_ingest() -> None:
        try:
            with session_scope() as s:
                outcome["decided"] = ingest_results(session=s, results=batch, plan=plan, now=NOW)
        except Exception as exc:  # reported below, in the test's thread
            outcome["error"] = exc

    event.listen(engine, "before_cursor_execute", spot)
    try:
        ingest = threading.Thread(target=run_ingest, name="ingest")
        with session_scope() as other:
            other.execute(update(Town).values(key=Town.key))  # holds the write lock
            ingest.start()
            assert writes.wait(timeout=120)
            time.sleep(OTHER_WRITER_HOLDS_S)  # the ingest now waits (or has its snapshot)
        ingest.join(timeout=300)
    finally:
        event.remove(engine, "before_cursor_execute", spot)
    assert not ingest.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert [x.decision.action for x in outcome["decided"]] == ["activate"] * 3
    with session_scope() as s:
        assert sorted(r.identifier for r in s.exec(select(FeedRecord))) == ["W-0", "W-1", "W-2"]
