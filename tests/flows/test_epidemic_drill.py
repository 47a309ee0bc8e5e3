"""`sanqing drill --scenario epidemic-returnees`: the epidemic plan end to end under Prefect,
with the summary the issue's contract names, figures that agree with the database, and
no personal data in reports or logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import col, func, select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import (
    Activation,
    DoorKnock,
    DutyShift,
    FollowUp,
    Notice,
    RegisteredPerson,
    Report,
    Screening,
    ShuttleSeat,
    SupplyLine,
)
from sanqing.privacy import contains_personal_data

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]

CONTRACT = {
    "plan",
    "persons_registered",
    "persons_by_risk",
    "home_monitoring",
    "followups",
    "duty",
    "supplies",
    "shuttles",
    "publicity",
    "notices_by_channel",
    "reports",
}


def drill(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["drill", "--scenario", "epidemic-returnees", *args])
    return result.exit_code, result.output


def test_the_epidemic_drill_runs_end_to_end_and_its_summary_agrees_with_the_db(
    db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = drill("--out", str(out))
    assert code == 0, output
    s_ = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(s_) >= CONTRACT and s_["plan"] == "epidemic"
    assert set(s_["followups"]) >= {"due", "done", "escalated"}
    assert set(s_["duty"]) >= {
        "points",
        "uncovered_hours",
        "min_rest_hours",
        "max_hours_per_person_day",
    }
    assert set(s_["supplies"]) >= {"requested", "delivered", "short"}
    assert set(s_["shuttles"]) >= {"residents", "assigned", "trips", "max_seat_use"}
    assert set(s_["publicity"]) >= {"households", "door_knocked"}
    with session_scope() as s:
        act = s.exec(select(Activation)).one()
        assert act.plan == "epidemic" and act.drill and act.status == "stood_down"
        assert s_["persons_registered"] == len(s.exec(select(RegisteredPerson)).all()) == 60
        assert sum(s_["persons_by_risk"].values()) == 60
        screened = s.exec(select(Screening)).all()
        assert s_["home_monitoring"] == sum(1 for x in screened if x.monitoring_until) == 5
        ups = s.exec(select(FollowUp)).all()
        assert s_["followups"]["due"] == len(ups) and s_["followups"]["done"] == len(ups)
        assert s_["followups"]["escalated"] == sum(1 for f in ups if f.escalated_to) == 2
        shifts = s.exec(select(DutyShift).where(col(DutyShift.point_code).is_not(None))).all()
        assert s_["duty"]["points"] == len({x.point_code for x in shifts}) == 7
        assert s_["duty"]["uncovered_hours"] == 0 and s_["duty"]["min_rest_hours"] >= 8
        assert s_["duty"]["max_hours_per_person_day"] <= 12
        lines = s.exec(select(SupplyLine)).all()
        assert s_["supplies"]["requested"] == sum(x.requested for x in lines)
        assert s_["supplies"]["short"] == 30  # the testing point's test kits, as scripted
        seats = s.exec(select(ShuttleSeat)).all()
        assert s_["shuttles"]["residents"] == len(seats)
        assert s_["shuttles"]["assigned"] == sum(1 for x in seats if x.vehicle_code)
        assert 0 < s_["shuttles"]["max_seat_use"] <= 1
        knocks = s.exec(select(DoorKnock)).all()
        assert s_["publicity"]["households"] == len(knocks) == 1449
        assert s_["publicity"]["door_knocked"] == 1449 - 3
        for channel, n in s_["notices_by_channel"].items():
            assert (
                s.exec(
                    select(func.count()).select_from(Notice).where(Notice.channel == channel)
                ).one()
                == n
            )
        reports = s.exec(select(Report).order_by(col(Report.seq))).all()
        assert [r.seq for r in reports] == [1, 2, 3] and all(not r.late for r in reports)
    assert "零报告" in reports[2].text and "零报告" not in reports[0].text
    for f in (out / "reports").iterdir():
        assert not contains_personal_data(f.read_text(encoding="utf-8")), f
    assert (out / "reports" / "daily-1.txt").read_text(encoding="utf-8").startswith("【演练】")
    assert len(list((out / "notices" / "door_visit").glob("*.html"))) == 23  # one per grid
    assert "疫情防控III级" in output and "摸排登记 60 人" in output


def test_the_same_epidemic_drill_again_runs_nothing_again(db_url: str, tmp_path: Path) -> None:
    code, first = drill("--out", str(tmp_path / "a"))
    assert code == 0, first
    with session_scope() as s:
        notices = s.exec(select(func.count()).select_from(Notice)).one()
    code, again = drill("--out", str(tmp_path / "b"))
    assert code == 0 and "本次未重新运行" in again
    a = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    for key in ("flow_seconds", "out_dir"):
        a.pop(key), b.pop(key)
    assert a == b
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(Notice)).one() == notices
        assert len(s.exec(select(Activation)).all()) == 1


def test_the_epidemic_drill_in_english(db_url: str, tmp_path: Path) -> None:
    code, output = drill("--out", str(tmp_path), "--locale", "en")
    assert code == 0, output
    report = (tmp_path / "reports" / "daily-1.txt").read_text(encoding="utf-8")
    assert report.startswith("[DRILL]") and "level III epidemic response" in report
