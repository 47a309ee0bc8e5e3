"""`sanqing warnings ingest --respond` starts the flood response the decision calls for."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing import response
from sanqing.db import session_scope
from sanqing.feeds.watch import mark_done
from sanqing.models import Activation, FeedRecord, Relocation
from sanqing.plans import Level, load_plan
from sanqing.registry import find_town
from sanqing.settings import REPO_ROOT
from sanqing.warning import WarningInfo

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]
ORANGE = str(REPO_ROOT / "tests" / "data" / "feeds" / "cap" / "rainstorm_orange_zh_en.xml")


def test_respond_starts_the_response_and_links_the_record(db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["warnings", "ingest", ORANGE, "--respond", "--now", "2026-07-12T19:00:00+08:00"]
    )
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        (act,) = s.exec(select(Activation)).all()
        assert act.level == "II" and not act.drill
        assert s.exec(select(Relocation)).first() is not None
        (record,) = s.exec(select(FeedRecord)).all()
        assert record.action == "activate" and record.activation_id == act.id


CAP = REPO_ROOT / "tests" / "data" / "feeds" / "cap"
RED = str(CAP / "rainstorm_red_update.xml")
CANCEL = str(CAP / "rainstorm_cancel.xml")
LATER = "2026-07-13T07:00:00+08:00"  # after the cancel; none of the warnings expired yet
WIDE = {"COLUMNS": "400"}


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["warnings", *args], env=WIDE)


def test_a_chain_cancelled_before_any_respond_starts_nothing(db_url: str) -> None:
    for doc in (ORANGE, RED, CANCEL):
        assert run("ingest", doc, "--now", LATER).exit_code == 0
    result = run("respond", "--now", LATER)
    assert result.exit_code == 0, result.output
    assert "no decisions pending" in result.stdout
    result = run("ingest", ORANGE, "--respond", "--now", LATER)  # a duplicate, then respond
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        assert s.exec(select(Activation)).all() == []
        records = s.exec(select(FeedRecord)).all()
        assert all(r.done for r in records)


def test_respond_carries_out_an_orange_and_its_red_update_as_one_level_one(db_url: str) -> None:
    for doc in (ORANGE, RED):
        assert run("ingest", doc, "--now", LATER).exit_code == 0
    result = run("respond", "--now", LATER)
    assert result.exit_code == 0, result.output
    assert "62122141600000_20260712213000_2" in result.stdout and "carried out" in result.stdout
    with session_scope() as s:
        (act,) = s.exec(select(Activation)).all()
        assert act.level == "I"
        orange = s.exec(
            select(FeedRecord).where(FeedRecord.identifier == "62122141600000_20260712183000_1")
        ).one()
        assert orange.done and orange.activation_id is None and "withdrawn" in orange.reason
    assert "no decisions pending" in run("respond", "--now", LATER).stdout


def test_a_decision_that_cannot_be_carried_out_stays_pending_and_the_exit_code_says_so(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import flows.rain_watch as watch

    markup = "[/red]x[bold]"
    doc = tmp_path / "orange.xml"
    doc.write_bytes(
        Path(ORANGE).read_bytes().replace(b"62122141600000_20260712183000_1", markup.encode())
    )
    assert run("ingest", str(doc), "--now", LATER).exit_code == 0

    def down(**kw: object) -> None:
        raise RuntimeError("Prefect API went away")

    monkeypatch.setattr(watch, "flood_response", down)
    result = run("respond", "--now", LATER)
    assert result.exit_code == 1
    assert markup in result.stdout and "stays pending" in result.stdout
    with session_scope() as s:
        assert not s.exec(select(FeedRecord)).one().done
    monkeypatch.undo()
    result = run("respond", "--now", LATER)
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        record, act = s.exec(select(FeedRecord)).one(), s.exec(select(Activation)).one()
        assert record.done and record.activation_id == act.id


def start_from_orange() -> str:
    """The orange warning ingested, and its response started (by hand: quicker than a run)."""
    assert run("ingest", ORANGE, "--now", LATER).exit_code == 0
    with session_scope() as s:
        rec = s.exec(select(FeedRecord)).one()
        act = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.II,
            warning=WarningInfo(identifier=rec.identifier, colour="orange"),
            drill=False,
        ).activation_id
        mark_done(session=s, record_id=rec.id, activation_id=act)
    return act


@pytest.mark.parametrize("how", ["expired", "cancelled"])
def test_respond_ends_the_responses_no_warning_holds_any_more(db_url: str, how: str) -> None:
    """As the watch does after its poll: one line per response it ends, asked once."""
    act = start_from_orange()
    clock = LATER
    if how == "cancelled":
        assert run("ingest", CANCEL, "--now", LATER).exit_code == 0
        with session_scope() as s:  # the cancel's stand-down was lost: done, never happened
            cancel = s.exec(select(FeedRecord).where(FeedRecord.msg_type == "Cancel")).one()
            assert cancel.action == "stand_down"
            mark_done(session=s, record_id=cancel.id, activation_id=None)
    else:
        clock = "2026-07-14T07:00:00+08:00"  # the orange warning expired at 18:30 the day before
    result = run("respond", "--now", clock)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if act in x]
    assert "stand_down" in line and "621221106" in line and "expired or cancelled" in line
    with session_scope() as s:
        assert response.patrol_state(s, act)["requested"] is True  # waits for the patrol
    assert "no decisions pending" in run("respond", "--now", clock).stdout  # asked once
