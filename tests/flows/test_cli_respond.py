"""The operator's commands: `sanqing respond`, `status`, `stand-down` (and `patrol` to end it)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import Activation, FeedRecord, Report
from sanqing.settings import REPO_ROOT

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]
SAMPLE = REPO_ROOT / "tests" / "data" / "feeds" / "cap" / "rainstorm_orange_zh_en.xml"


def live_warning(tmp_path: Path, identifier: str = "CX-ORANGE-LIVE") -> Path:
    """The sample orange warning, sent an hour ago and in force for a day."""
    sent = datetime.now(UTC) - timedelta(hours=1)
    xml = SAMPLE.read_text(encoding="utf-8")
    for old in ("2026-07-12T18:30:00+08:00", "2026-07-12T19:00:00+08:00"):
        xml = xml.replace(old, sent.isoformat(timespec="seconds"))
    xml = xml.replace(
        "2026-07-13T18:30:00+08:00", (sent + timedelta(days=1)).isoformat("T", "seconds")
    )
    xml = xml.replace("62122141600000_20260712183000_1", identifier)
    path = tmp_path / f"{identifier}.xml"
    path.write_text(xml, encoding="utf-8")
    return path


def live_copy(tmp_path: Path, name: str) -> Path:
    """A sample CAP file with every time moved so that it was sent an hour ago."""
    xml = (SAMPLE.parent / name).read_text(encoding="utf-8")
    times = set(re.findall(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", xml))
    sent = datetime.fromisoformat(re.search(r"<sent>([^<]+)</sent>", xml)[1])  # type: ignore[index]
    now = datetime.now(UTC) - timedelta(hours=1)
    for t in times:
        xml = xml.replace(t, (now + (datetime.fromisoformat(t) - sent)).isoformat("T", "seconds"))
    path = tmp_path / name
    path.write_text(xml, encoding="utf-8")
    return path


def sanqing(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output.replace("\n", "") if result.exit_code else result.output


def status() -> list[dict[str, Any]]:
    code, out = sanqing("status", "--json")
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_respond_status_stand_down_and_patrol_then_a_new_start(db_url: str, tmp_path: Path) -> None:
    warning = live_warning(tmp_path)
    code, out = sanqing("respond", "--town", "jifeng", "--warning", str(warning))
    assert code == 0, out
    (first,) = status()
    assert first["activation_id"] == "flood-621221106-CX-ORANGE-LIVE"
    assert (first["level"], first["state"], first["drill"]) == ("II", "open", False)
    assert first["warnings"] == ["CX-ORANGE-LIVE"] and first["ended_at"] is None
    assert first["shelters"] and all(s["people"] <= s["capacity"] for s in first["shelters"])
    assert sum(s["people"] for s in first["shelters"]) > 0
    with session_scope() as s:
        # stored as the watch stores it, and carried out: a later cancel finds it
        (record,) = s.exec(select(FeedRecord)).all()
        assert record.done and record.activation_id == first["activation_id"]

    # 人员伤亡: the office records them; each call adds, a bad one is refused in one line
    code, out = sanqing(
        "casualties", "--town", "jifeng", "--injured", "1", "--village", "石门村",
        "--note", "转移途中摔伤，已送卫生院", "--by", "石门村值守",
    )  # fmt: skip
    assert code == 0 and "受伤1人" in out, out
    code, out = sanqing("casualties", "--town", "jifeng", "--village", "无此村", "--injured", "1")
    assert code == 2 and "无此村" in out and "Traceback" not in out
    code, out = sanqing("casualties", "--town", "jifeng", "--dead", "-1")
    assert code == 2 and "dead" in out
    code, out = sanqing("casualties", "--town", "jifeng")
    assert code == 2 and "nothing to record" in out
    code, out = sanqing("casualties", "--town", "jifeng", "--injured", "2", "--missing", "1")
    assert code == 0 and "失踪1人" in out and "受伤3人" in out, out

    code, out = sanqing("stand-down", "--town", "jifeng", "--reason", "预警解除")
    assert code == 0, out
    assert "雨后巡查" in out and status()[0]["state"] == "open"  # waits for the patrol
    code, out = sanqing("patrol", "--town", "jifeng", "--name", "张三")
    assert code == 0, out
    (ended,) = status()
    assert ended["state"] == "stood_down" and ended["ended_at"]
    with session_scope() as s:
        reports = list(s.exec(select(Report).order_by(Report.created_at)))
        assert reports[-1].kind == "final"
        assert "失踪1人、受伤3人（转移途中摔伤，已送卫生院）" in reports[-1].text

    # the same warning again: its response has ended, nothing reopens
    code, out = sanqing("respond", "--town", "jifeng", "--warning", str(warning))
    assert code == 0, out
    assert "已结束" in out
    assert [a["state"] for a in status()] == ["stood_down"]

    # a new start the same day opens a new response (not the old 终报 again)
    code, out = sanqing("respond", "--town", "jifeng", "--level", "III")
    assert code == 0, out
    rows = status()
    assert [r["state"] for r in rows] == ["open", "stood_down"]
    assert rows[0]["level"] == "III" and rows[0]["activation_id"] != first["activation_id"]
    with session_scope() as s:
        assert len(s.exec(select(Activation)).all()) == 2
        assert s.exec(select(Report).where(Report.activation_id == rows[0]["activation_id"])).all()


def test_respond_refuses_what_it_cannot_answer_in_one_line(db_url: str, tmp_path: Path) -> None:
    code, out = sanqing("respond", "--town", "jifeng")
    assert code == 2 and "--level" in out
    code, out = sanqing("respond", "--town", "nowhere", "--level", "II")
    assert code == 2 and "nowhere" in out and "Traceback" not in out
    cancel = REPO_ROOT / "tests" / "data" / "feeds" / "cap" / "rainstorm_cancel.xml"
    code, out = sanqing("respond", "--town", "jifeng", "--warning", str(cancel))
    assert code == 2 and "nothing to respond to" in out
    code, out = sanqing("stand-down", "--town", "jifeng", "--reason", "x")
    assert code == 2 and "no open response" in out
    with session_scope() as s:
        assert s.exec(select(Activation)).all() == []


def test_respond_refuses_an_exercise_and_a_cancelled_warning(db_url: str, tmp_path: Path) -> None:
    code, out = sanqing(
        "respond", "--town", "jifeng", "--warning", str(live_copy(tmp_path, "exercise.xml"))
    )
    assert code == 2 and "exercise" in out
    # the orange warning and its cancel came in without --respond: nothing may start now
    orange = live_copy(tmp_path, "rainstorm_orange_zh_en.xml")
    for doc in (orange, live_copy(tmp_path, "rainstorm_cancel.xml")):
        code, out = sanqing("warnings", "ingest", str(doc))
        assert code == 0, out
    code, out = sanqing("respond", "--town", "jifeng", "--warning", str(orange))
    assert code == 2 and "no longer in force" in out, out
    with session_scope() as s:
        assert s.exec(select(Activation)).all() == []


def test_a_warning_cancelled_after_the_hand_off_opens_no_response(
    db_url: str, tmp_path: Path
) -> None:
    """The watch handed the orange decision on; the cancel is stored before the run starts."""
    from flows.flood_response import flood_response
    from sanqing.feeds.model import FeedWarning

    orange = live_copy(tmp_path, "rainstorm_orange_zh_en.xml")
    for doc in (orange, live_copy(tmp_path, "rainstorm_cancel.xml")):
        assert sanqing("warnings", "ingest", str(doc))[0] == 0
    with session_scope() as s:
        rec = s.exec(select(FeedRecord).where(FeedRecord.msg_type == "Alert")).one()
        fw = FeedWarning.model_validate(rec.warning)
    figures = flood_response(
        town="jifeng",
        warning={"identifier": fw.identifier, "sender": fw.sender, "colour": "orange"},
        drill=False,
    )
    assert figures["activation_id"] is None and figures["status"] == "not_started"
    assert "62122141600000_20260713060000_3" in figures["reason"]  # the cancel names itself
    with session_scope() as s:
        assert s.exec(select(Activation)).all() == []
