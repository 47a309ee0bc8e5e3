"""`sanqing warnings ingest`: store and decide, one JSON line per warning, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import FeedRecord
from sanqing.settings import REPO_ROOT

FEEDS = REPO_ROOT / "tests" / "data" / "feeds"
ORANGE = str(FEEDS / "cap" / "rainstorm_orange_zh_en.xml")
NOW = "2026-07-12T19:00:00+08:00"
KEYS = {
    "identifier",
    "source_format",
    "msg_type",
    "status",
    "event",
    "hazard",
    "colour",
    "severity",
    "sent",
    "onset",
    "expires",
    "references",
    "area_desc",
    "geocodes",
    "decision",
}


def ingest(*args: str) -> tuple[int, list[dict]]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["warnings", "ingest", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines


def test_json_lines_decide_and_a_hostile_document_is_rejected_without_stopping_the_rest(
    db_url: str,
) -> None:
    hostile = str(FEEDS / "hostile" / "billion_laughs.xml")
    code, lines = ingest(hostile, ORANGE, "--json", "--now", NOW)
    assert code == 0
    assert len(lines) == 2 and all(set(line) == KEYS for line in lines)
    reject = next(line for line in lines if line["decision"]["action"] == "reject")
    assert "billion" in reject["decision"]["reason"] or "entity" in reject["decision"]["reason"]
    orange = next(line for line in lines if line["identifier"])
    d = orange["decision"]
    assert (orange["hazard"], orange["colour"], d["action"], d["level"]) == (
        "rainstorm",
        "orange",
        "activate",
        "II",
    )
    assert d["town_codes"] == ["621221106"] and d["village_codes"] == sorted(d["village_codes"])
    # the same warning again changes nothing
    _, again = ingest(ORANGE, "--json", "--now", NOW)
    assert again[0]["decision"]["action"] == "duplicate"


def test_an_expired_warning_is_recorded_and_ignored(db_url: str) -> None:
    _, lines = ingest(ORANGE, "--json", "--now", "2026-07-20T00:00:00+08:00")
    assert lines[0]["decision"]["action"] == "ignore" and "expire" in lines[0]["decision"]["reason"]


def test_a_clock_without_offset_is_refused(db_url: str) -> None:
    result = CliRunner().invoke(app, ["warnings", "ingest", ORANGE, "--now", "2026-07-12T19:00:00"])
    assert result.exit_code == 2 and "offset" in result.output


def test_an_unreadable_source_is_a_rejection_and_the_exit_code_says_so(
    db_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    code, lines = ingest(str(tmp_path / "missing.xml"), ORANGE, "--json", "--now", NOW)
    assert code == 1  # not everything could be read; what could, is decided and printed
    assert [line["decision"]["action"] for line in lines] == [
        "reject",
        "activate",
    ]  # in the order of the sources


def test_a_poisoned_document_is_rejected_and_the_orange_beside_it_is_decided(
    db_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    data = Path(ORANGE).read_bytes()
    bad = tmp_path / "overflow.xml"
    bad.write_bytes(
        data.replace(
            b"<expires>2026-07-13T18:30:00+08:00</expires>",
            b"<expires>9999-12-31T23:59:59-23:59</expires>",
        ).replace(b"_20260712183000_1", b"_OVERFLOW_1")
    )
    code, lines = ingest(str(bad), ORANGE, "--json", "--now", NOW)
    assert code == 0
    assert [line["decision"]["action"] for line in lines] == ["reject", "activate"]
    assert lines[0]["identifier"] == "62122141600000_OVERFLOW_1"
    assert "<expires>" in lines[0]["decision"]["reason"]
    assert "9999-12-31T23:59:59-23:59" in lines[0]["decision"]["reason"]
    with session_scope() as s:
        actions = {r.identifier: r.action for r in s.exec(select(FeedRecord))}
    assert actions == {
        "62122141600000_OVERFLOW_1": "reject",
        "62122141600000_20260712183000_1": "activate",
    }
    # the next ingest works: the same documents again, and nothing is lost or doubled
    code, lines = ingest(str(bad), ORANGE, "--json", "--now", NOW)
    assert code == 0
    assert [line["decision"]["action"] for line in lines] == ["reject", "duplicate"]


WIDE = {"COLUMNS": "400"}  # rich wraps table cells at the terminal's width


def test_every_document_gives_a_line_even_an_empty_index(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "index.atom"
    empty.write_text('<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id></feed>')
    code, lines = ingest(str(empty), ORANGE, "--json", "--now", NOW)
    assert code == 0
    assert len(lines) == 2 and all(set(line) == KEYS for line in lines)
    assert "no warnings in this document" in lines[0]["decision"]["reason"]
    assert str(empty) in lines[0]["decision"]["reason"]
    result = CliRunner().invoke(app, ["warnings", "ingest", str(empty), "--now", NOW], env=WIDE)
    assert result.exit_code == 0 and "no warnings in this document" in result.stdout


MARKUP = "[/red]x[bold]"


def test_markup_in_the_data_is_printed_as_written(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = Path(ORANGE).read_bytes()
    doc = tmp_path / "markup.xml"
    doc.write_bytes(
        data.replace(b"62122141600000_20260712183000_1", MARKUP.encode())
        .replace(b"<headline>", f"<headline>{MARKUP}".encode())
        .replace(b"<areaDesc>", b"<areaDesc>[/]")
    )
    result = CliRunner().invoke(app, ["warnings", "ingest", str(doc), "--now", NOW], env=WIDE)
    assert result.exit_code == 0, result.output
    assert MARKUP in result.stdout
    # an error message quoting the data is printed as written too
    missing = tmp_path / f"{MARKUP}.xml"
    result = CliRunner().invoke(app, ["warnings", "ingest", str(missing), "--now", NOW], env=WIDE)
    assert result.exit_code == 1
    assert MARKUP in result.output.replace("\n", "")


def test_a_poisoned_message_in_an_index_does_not_lose_the_orange_of_the_same_poll(
    db_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """One feed, one poll: its index links to an overflowing alert and to the orange."""
    data = Path(ORANGE).read_bytes()
    (tmp_path / "bad.xml").write_bytes(
        data.replace(
            b"<sent>2026-07-12T18:30:00+08:00", b"<sent>0001-01-01T00:00:00+14:00"
        ).replace(b"_20260712183000_1", b"_OVERFLOW_2")
    )
    (tmp_path / "orange.xml").write_bytes(data)
    index = tmp_path / "index.atom"
    entries = "".join(
        f'<entry><id>{n}</id><link type="application/cap+xml" href="{n}.xml"/></entry>'
        for n in ("bad", "orange")
    )
    index.write_text(f'<feed xmlns="http://www.w3.org/2005/Atom"><id>i</id>{entries}</feed>')
    code, lines = ingest(str(index), "--json", "--now", NOW)
    assert code == 0
    by_action = {line["decision"]["action"]: line for line in lines}
    assert set(by_action) == {"activate", "reject"}
    assert "<sent>" in by_action["reject"]["decision"]["reason"]
    code, lines = ingest(str(index), "--json", "--now", NOW)  # the next poll still works
    assert code == 0 and {line["decision"]["action"] for line in lines} == {"duplicate", "reject"}
