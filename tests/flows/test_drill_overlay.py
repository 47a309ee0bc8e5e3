"""`sanqing drill --scenario flood-during-epidemic` (三情叠加) end to end under Prefect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import Activation, Relocation, Screening, Shelter
from sanqing.response.shelters import OCCUPYING

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def test_the_flood_during_the_epidemic_moves_the_monitored_apart(
    db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["drill", "--scenario", "flood-during-epidemic", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    overlay = summary["overlay"]
    assert overlay["epidemic_level"] == "III" and overlay["mixed"] == 0
    assert overlay["monitored_people_moved"] > 0
    # every monitored person who moved is in an isolation place, with relatives, or short
    assert overlay["monitored_people_moved"] == (
        overlay["in_isolation_places"]
        + overlay["isolation_shortfall_people"]
        + overlay["with_relatives"]
    )
    with session_scope() as s:
        acts = list(s.exec(select(Activation)))
        assert {(a.plan, a.status, a.drill) for a in acts} == {
            ("flood", "stood_down", True),
            ("epidemic", "stood_down", True),
        }
        screened = list(s.exec(select(Screening)))
        monitored = {x.household_code for x in screened if x.status == "monitoring"}
        rels = list(s.exec(select(Relocation)))
        shelters = {x.code: x for x in s.exec(select(Shelter))}
    moved_monitored = [r for r in rels if r.household_code in monitored]
    assert moved_monitored and all(r.isolation for r in moved_monitored)
    assert all(not r.isolation for r in rels if r.household_code not in monitored)
    # isolation places and spaced general places: never more than there are
    held = [r for r in rels if r.status in OCCUPYING]  # 投亲靠友 frees its place
    for code, shelter in shelters.items():
        apart = sum(r.people for r in held if r.shelter_code == code and r.isolation)
        general = sum(r.people for r in held if r.shelter_code == code and not r.isolation)
        assert apart <= shelter.isolation_places, code
        assert general <= shelter.capacity * 0.5, code
    assert summary["people_to_relocate"] > 0 and summary["shelter_shortfall_people"] > 0
    # both instructions in the notices, both situations in every report upward
    text = {
        channel: "".join(
            p.read_text(encoding="utf-8") for p in (out / "notices" / channel).rglob("*.*")
        )
        for channel in ("sms", "wechat", "loudspeaker", "door_visit")
    }
    assert "戴口罩、单独安置" in text["sms"] and "隔离安置间" in text["sms"]
    assert text["wechat"].count("不聚集、戴口罩") == 6  # every village's group
    assert "居家监测：戴口罩、单独安置" in text["door_visit"] and "戴口罩" in text["loudspeaker"]
    reports = sorted((out / "reports").glob("*.txt"))
    assert len(reports) == 3
    assert all("疫情叠加" in p.read_text(encoding="utf-8") for p in reports)
