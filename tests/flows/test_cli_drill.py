"""`sanqing drill` end to end: outputs on disk, figures that agree with the database."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import (
    Activation,
    HazardPoint,
    HazardThreat,
    Household,
    Inspection,
    Notice,
    Relocation,
    Report,
    RoadIncident,
    TimelineEvent,
)
from sanqing.privacy import contains_personal_data

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]

REQUIRED = {
    "activation_id",
    "town",
    "level",
    "villages",
    "households_to_relocate",
    "households_relocated",
    "people_relocated",
    "vulnerable_households_relocated",
    "shelters_used",
    "shelter_shortfall_people",
    "hazard_points_inspected",
    "hazard_points_dangerous",
    "roads_blocked",
    "roads_cleared",
    "notices_by_channel",
    "reports",
}


def drill(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["drill", *args])
    return result.exit_code, result.output


def cards_missing() -> int:
    """Moving households whose card was not handed out before the season: a drill prints those."""
    with session_scope() as s:
        missing = s.exec(
            select(func.count())
            .select_from(Relocation)
            .join(Household, Household.code == Relocation.household_code)  # type: ignore[arg-type]
            .where(Household.card_issued == False)  # noqa: E712
        ).one()
    assert missing  # the sample registry has some
    return missing


def test_drill_writes_notices_reports_and_a_summary_that_agrees_with_the_db(
    db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = drill("--out", str(out))
    assert code == 0, output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) >= REQUIRED
    with session_scope() as s:
        rels = list(s.exec(select(Relocation)))
        insp = list(s.exec(select(Inspection)))
        roads = list(s.exec(select(RoadIncident)))
        assert summary["households_to_relocate"] == len(rels)
        safe = [r for r in rels if r.status in ("in_shelter", "moved", "with_relatives", "removed")]
        assert summary["households_relocated"] == len(safe)
        assert summary["people_relocated"] == sum(r.people for r in safe)
        assert summary["vulnerable_households_relocated"] == sum(
            bool(r.vulnerabilities) for r in safe
        )
        assert summary["shelters_used"] == len({r.shelter_code for r in rels if r.shelter_code})
        assert summary["hazard_points_inspected"] == len(
            {i.hazard_code for i in insp if i.status != "assigned"}
        )
        assert summary["hazard_points_dangerous"] == len(
            {i.hazard_code for i in insp if i.status == "danger"}
        )
        assert summary["roads_blocked"] == len(roads)
        assert summary["roads_cleared"] == sum(r.status == "reopened" for r in roads)
        for channel, n in summary["notices_by_channel"].items():
            assert (
                s.exec(
                    select(func.count())
                    .select_from(Notice)
                    .where(Notice.channel == channel, Notice.status != "superseded")
                ).one()
                == n
            )
        # the file channel delivered every notice (the latest version of each list)
        assert {n.status for n in s.exec(select(Notice))} <= {"sent", "superseded"}
        # 首报 after the orders, 续报一 after the roll call, 终报 after the patrol's all-clear
        assert [r["kind"] for r in summary["reports"]] == ["initial", "follow_up", "final"]
        assert s.exec(select(func.count()).select_from(Report)).one() == 3
        # the scenario's answers: approved; one household refused, went up the chain and was
        # removed (带离); one was unreachable and its secretary found it with relatives
        assert summary["approval"] == "approved"
        assert summary["households_refused"] == summary["households_unreachable"] == 0
        removed = [r for r in rels if r.status == "removed"]
        assert len(removed) == 1 and removed[0].removed_by and removed[0].removed_at
        assert sum(r.status == "with_relatives" for r in rels) == 1
        assert summary["households_escalated"] == 2 and summary["households_unconfirmed"] == 0
        simulated = {
            e.action: e.simulated
            for e in s.exec(select(TimelineEvent))
            if e.action in ("批准转移", "点名回报", "雨后巡查确认安全", "未核实转移户上报")
        }
        assert simulated == dict.fromkeys(
            ("批准转移", "点名回报", "雨后巡查确认安全", "未核实转移户上报"), True
        )
    report_txt = (out / "reports" / "initial-0.txt").read_text(encoding="utf-8")
    assert "首报" in report_txt and "【演练】" in report_txt
    assert f"应转移{summary['households_to_relocate']}户" in report_txt
    follow_up = (out / "reports" / "follow_up-1.txt").read_text(encoding="utf-8")
    assert "续报一" in follow_up
    payload = json.loads((out / "reports" / "initial-0.json").read_text(encoding="utf-8"))
    assert payload["figures"]["households_to_relocate"] == summary["households_to_relocate"]
    for f in (out / "reports").iterdir():
        assert not contains_personal_data(f.read_text(encoding="utf-8")), f
    # the SMS files mask the residents' numbers (the cadre's work number stays: people must call it)
    with session_scope() as s:
        resident_phones = {p for p in s.exec(select(Household.phone)) if p}
    sms = [p.read_text(encoding="utf-8") for p in (out / "notices" / "sms").glob("*.txt")]
    assert len(sms) == 6 + 1  # a file per village, and the town's (the commander's SMS)
    assert all(phone not in text for text in sms for phone in resident_phones)
    assert sum(text.count("收件人：") for text in sms) == summary["notices_by_channel"]["sms"]
    assert len(list((out / "notices" / "card").rglob("*.html"))) == cards_missing()
    assert "鸡峰镇" in output and "合计" in output


def test_drill_twice_gives_the_same_figures(db_url: str, tmp_path: Path) -> None:
    code, first = drill("--out", str(tmp_path / "a"))
    assert code == 0 and "本次未重新运行" not in first
    code, again = drill("--out", str(tmp_path / "b"))
    # the second run says that nothing ran again, rather than looking like a new drill
    assert code == 0 and "本次未重新运行" in again and "SANQING_DATA_DIR" in again
    a = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    for key in ("flow_seconds", "out_dir"):
        a.pop(key), b.pop(key)
    assert a == b
    assert "did not apply" not in again  # same language: nothing more to say
    # asked in another language, it says the notices and reports stay in the first one's
    code, english = drill("--out", str(tmp_path / "c"), "--locale", "en")
    assert (
        code == 0 and "Its notices and reports are in zh-CN: --locale en did not apply" in english
    )


def test_drill_in_english(db_url: str, tmp_path: Path) -> None:
    code, output = drill("--out", str(tmp_path), "--locale", "en", "--level", "III")
    assert code == 0, output
    report = (tmp_path / "reports" / "initial-0.txt").read_text(encoding="utf-8")
    assert "[DRILL]" in report and "level III" in report


def test_a_broken_scenario_file_is_refused_with_file_and_key(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ntitle: y\nwarning:\n  identifier: W1\n  colour: purple\n", encoding="utf-8"
    )
    code, output = drill("--scenario", str(bad), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "bad.yaml" in output and "warning.colour" in output


def test_a_drill_at_level_iv_ends_though_its_script_names_households_iv_does_not_move(
    db_url: str, tmp_path: Path
) -> None:
    # the orange-rainstorm script's roll call names households that level II moves
    code, output = drill("--out", str(tmp_path), "--level", "IV")
    assert code == 0, output
    with session_scope() as s:
        act = s.exec(select(Activation)).one()
        assert (act.level, act.status) == ("IV", "stood_down")
        assert {r.status for r in s.exec(select(Relocation))} <= {"in_shelter", "moved"}


def test_with_endpoints_set_the_drill_delivers_through_them(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli.drill
    import sanqing.clock
    from sanqing.settings import get_settings
    from tests.fakes import FakeEndpoint, SkippingClock

    # The drill's settle window counts real time as well as the skipped waits: on a slow
    # machine delivering the town's SMS took longer than the 25 s the 60 s window leaves
    # after the reports' 35 s of backoff, and no report was tried a third time (CI, PG).
    # What is tested here is the backoff and once-only delivery, not the window's length.
    monkeypatch.setattr(cli.drill, "DRILL_SETTLE_S", 600.0)
    with FakeEndpoint(dedupe=True) as sms, FakeEndpoint(dedupe=True) as county:
        monkeypatch.setenv("SANQING_SMS_URL", sms.url("/send"))
        monkeypatch.setenv("SANQING_COUNTY_REPORT_URL", county.url("/reports"))
        monkeypatch.setenv("SANQING_SMS_RATE_PER_S", "0")
        get_settings.cache_clear()
        sms.fail_next(2, status=503)  # the gateway hiccups: the drill retries before it ends
        county.fail_each(2, status=503)  # every report goes on its third try, 5 s + 30 s on
        try:
            # The real backoff (5 s, 30 s …) on a clock that skips the waits.
            with sanqing.clock.use(SkippingClock()) as clock:
                code, output = drill("--out", str(tmp_path))
        finally:
            get_settings.cache_clear()
    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    delivery = summary["delivery"]
    with session_scope() as s:
        n_sms = s.exec(
            select(func.count()).select_from(Notice).where(Notice.channel == "sms")
        ).one()
        reports = list(s.exec(select(Notice).where(Notice.channel == "county")))
    assert delivery["sms"] == {"failed": 0, "pending": 0, "sent": n_sms}
    assert len(sms.delivered) == n_sms  # each SMS once at the gateway
    # 首报, 续报一 and 终报 reached the county receiver, once each, on their third try
    kinds = sorted(body["kind"] for body in county.delivered.values())
    assert kinds == ["final", "follow_up", "initial"] and delivery["county"]["sent"] == 3
    assert [n.attempts for n in reports] == [3, 3, 3]
    for n in reports:  # tried again no sooner than the backoff said: 5 s, then 30 s
        assert n.sent_at and n.next_attempt_at and n.sent_at >= n.next_attempt_at
        assert (n.sent_at - n.created_at).total_seconds() >= 35
    assert clock.skipped > 0  # the drill settled on the injected clock, not in real time
    # channels without an endpoint went to files, and the out folder is still written
    assert delivery["card"]["sent"] == cards_missing()
    assert (tmp_path / "reports" / "final-0.txt").is_file()


def test_a_drill_whose_gateway_refuses_says_so_and_keeps_the_reason(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sanqing.clock
    from sanqing.settings import get_settings
    from tests.fakes import FakeEndpoint, SkippingClock

    with FakeEndpoint() as sms:
        # the gateway's words are printed as written: "[/red]" is no markup
        sms.fail_next(100_000, status=400, body={"error": "[/red] unknown sender"})
        monkeypatch.setenv("SANQING_SMS_URL", sms.url("/send"))
        monkeypatch.setenv("SANQING_SMS_RATE_PER_S", "0")
        get_settings.cache_clear()
        try:
            with sanqing.clock.use(SkippingClock()) as clock:
                code, output = drill("--out", str(tmp_path))
        finally:
            get_settings.cache_clear()
    assert code == 0, output  # the drill ends; what did not go is reported, not hidden
    assert clock.waits == []  # a refusal is final: nothing to wait for, nothing tried again
    assert len(sms.requests) == summary_sms(tmp_path)  # one try per SMS
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["delivery"]["sms"]["failed"] == summary["notices_by_channel"]["sms"]
    assert "HTTP 400" in summary["delivery_errors"]["sms"]
    assert "未送达" in output and "HTTP 400" in output and "[/red] unknown sender" in output
    assert not (tmp_path / "notices" / "county").exists()  # reports are under reports/


def summary_sms(out: Path) -> int:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return int(summary["notices_by_channel"]["sms"])


# --- hostile input ------------------------------------------------------------------------


def _edit_csv(path: Path, edit: Any) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    edit(table)
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


@pytest.fixture
def config_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of config/ that sanqing reads instead of the checkout's."""
    from sanqing.settings import REPO_ROOT, get_settings

    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    monkeypatch.setenv("SANQING_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    return config


def test_a_hostile_registry_drills_and_every_file_lands_under_out(
    db_url: str, tmp_path: Path, config_copy: Path
) -> None:
    town = config_copy / "towns" / "jifeng"
    long_name = "名" * 200  # the longest the registry takes: 600 bytes of UTF-8
    hostile = {"峰南村": "../../../../x", "柳湾村": "[/red]x", "庙坪村": long_name}

    def villages(table: list[list[str]]) -> None:
        for row in table[1:]:
            row[1] = hostile.get(row[1], row[1])

    def cadres(table: list[list[str]]) -> None:
        name, village = table[0].index("name"), table[0].index("village_code")
        for i, row in enumerate(table[1:]):
            if row[village]:
                row[name] = ("a/b", "..", long_name, "\u202e[/red]")[i % 4]

    def households(table: list[list[str]]) -> None:
        head = table[0].index("head_name")
        for row in table[1:]:
            if row[head] != "马有喜":  # the scenario's roll call names him
                row[head] = ".."

    _edit_csv(town / "villages.csv", villages)
    _edit_csv(town / "cadres.csv", cadres)
    _edit_csv(town / "households.csv", households)
    out = tmp_path / "a" / "b" / "out"
    code, output = drill("--out", str(out))
    assert code == 0, output
    assert "[/red]x" in output  # the table shows the name as written
    assert sorted(os.listdir(tmp_path / "a")) == ["b"] and os.listdir(tmp_path / "a" / "b") == [
        "out"
    ]
    files = [p for p in out.rglob("*") if p.is_file()]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    cards = list((out / "notices" / "card").rglob("*.html"))
    assert len(cards) == cards_missing() < summary["households_to_relocate"]
    assert len(list((out / "notices" / "wechat").iterdir())) == 6  # one per village
    for f in files:
        assert f.resolve().is_relative_to(out.resolve())
        assert all(len(part.encode("utf-8")) <= 255 for part in f.relative_to(out).parts)


def test_a_scenario_file_anywhere_runs_with_its_own_answers(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sanqing.models import Approval
    from sanqing.settings import REPO_ROOT

    scenario = (REPO_ROOT / "config" / "scenarios" / "orange-rainstorm.yaml").read_text("utf-8")
    # the same name as the sample, other answers: the file given is the file used
    mine = scenario.replace("鸡峰镇防汛抗旱指挥部指挥长", "演练用外部脚本指挥长")
    assert mine != scenario
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "my.yaml").write_text(mine, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, output = drill("--scenario", "my.yaml", "--out", str(tmp_path / "out"))
    assert code == 0, output
    with session_scope() as s:
        act = s.exec(select(Activation)).one()
        assert act.status == "stood_down"
        approval = s.exec(select(Approval)).one()
        assert approval.approver == "演练用外部脚本指挥长"


def test_a_drill_that_fails_after_activation_stands_it_down(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sanqing.settings import REPO_ROOT, get_settings

    # A template someone deleted: the plan is activated, then the notices cannot be written.
    templates = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", templates)
    (templates / "zh-CN" / "notices" / "relocation.sms.txt.j2").unlink()
    monkeypatch.setenv("SANQING_TEMPLATES_DIR", str(templates))
    get_settings.cache_clear()
    code, output = drill("--out", str(tmp_path / "out"))
    assert code == 2, output
    assert output.splitlines()[-1].startswith("错误 / error: ")
    with session_scope() as s:
        act = s.exec(select(Activation)).one()
        assert act.status == "stood_down"  # its shelter places and machines are free again
        ended = [e for e in s.exec(select(TimelineEvent)) if e.action == "结束应急响应"]
        assert len(ended) == 1 and "演练中断" in ended[0].detail
    # the next drill is not blocked by the failed one, and finds its places free
    monkeypatch.delenv("SANQING_TEMPLATES_DIR")
    get_settings.cache_clear()
    code, output = drill("--out", str(tmp_path / "out"))
    assert code == 0, output


def test_the_commander_says_no_and_danger_is_found_the_threatened_move_anyway(
    db_url: str, tmp_path: Path
) -> None:
    """三个紧急撤离: a rejection holds the planned moves, never those danger threatens."""
    code, output = drill("--scenario", "rejected-danger", "--out", str(tmp_path))
    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["approval"] == "rejected"
    with session_scope() as s:
        cave = s.exec(select(HazardPoint.code).where(HazardPoint.name == "石门洞滑坡")).one()
        threatened = set(
            s.exec(select(HazardThreat.household_code).where(HazardThreat.hazard_code == cave))
        )
        rels = {r.household_code: r for r in s.exec(select(Relocation))}
        # exactly those the danger threatens moved, at once; nobody of the planned moves
        assert set(rels) == threatened
        assert all(r.urgent and r.status in ("in_shelter", "moved") for r in rels.values())
        told = [n for n in s.exec(select(Notice)) if n.purpose == "urgent_moves"]
        assert len(told) == 1 and f"{len(threatened)}户" in told[0].body
    assert summary["households_relocated"] == len(threatened)
    initial = (tmp_path / "reports" / "initial-0.txt").read_text(encoding="utf-8")
    # the report says why they moved though the commander said no
    assert "三个紧急撤离" in initial and f"{len(threatened)}户" in initial
    assert "未批准扩大转移" in initial and "石门洞滑坡" in initial
    # and the final report does not claim the danger zones were emptied: only those moved
    final = (tmp_path / "reports" / "final-0.txt").read_text(encoding="utf-8")
    people = sum(r.people for r in rels.values())
    assert "危险区内群众全部转移到位" not in final
    assert f"未下达转移令：仅紧急撤离的{len(threatened)}户{people}人转移，均已到位" in final
