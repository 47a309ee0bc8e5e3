"""`sanqing warnings ingest`: store and decide, one JSON line per warning, bad input refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli import app
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


def test_an_unreadable_source_is_a_rejection_not_a_crash(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, lines = ingest(str(tmp_path / "missing.xml"), ORANGE, "--json", "--now", NOW)
    assert code == 0
    assert [line["decision"]["action"] for line in lines] == [
        "reject",
        "activate",
    ]  # in the order of the sources
