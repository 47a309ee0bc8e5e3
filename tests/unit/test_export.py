"""The county's ledger workbook (sanqing/export/), read back with openpyxl as the county would."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing import response
from sanqing.db import session_scope
from sanqing.errors import SanqingError, UnknownActivation
from sanqing.export import build_ledger, latest_activation_id, save_ledger
from sanqing.models import Household, Notice, Relocation, Village
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.status import activation_status
from sanqing.warning import WarningInfo
from tests.workbooks import rows_under

NOW = datetime(2026, 7, 12, 11, 0, tzinfo=UTC)
SHEETS = ["概况", "转移台账", "安置点", "通知", "时间线", "报告"]
PHONE = "13912345678"
HOSTILE = [
    '=HYPERLINK("http://evil.example/x","点我")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "=1+1",
]


def respond(now: datetime = NOW, identifier: str = "W-1") -> str:
    """A level-I response of the sample town with its moves planned and placed."""
    ensure_registry("jifeng")
    plan = load_plan()
    with session_scope() as s:
        act = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=plan,
            level=Level.I,
            warning=WarningInfo(identifier=identifier, hazard="rainstorm", colour="red"),
            drill=False,
            now=now,
        ).activation_id
    with session_scope() as s:
        for v in response.villages_of(s, town_code="621221106"):
            response.plan_relocations(session=s, activation_id=act, village_code=v.code, plan=plan)
        response.assign_town_shelters(session=s, activation_id=act, plan=plan)
    return act


def export(act: str, path: Path) -> Any:
    with session_scope() as s:
        ledger = build_ledger(session=s, activation_id=act, now=NOW)
    save_ledger(ledger, path)
    return load_workbook(path)


def test_the_ledger_has_its_sheets_and_the_databases_figures(db_url: str, tmp_path: Path) -> None:
    act = respond()
    wb = export(act, tmp_path / "台账.xlsx")
    assert wb.sheetnames == SHEETS
    with session_scope() as s:
        rels = list(s.exec(select(Relocation).where(Relocation.activation_id == act)))
        heads = {h.code: h.head_name for h in s.exec(select(Household))}
        status = next(r for r in activation_status(session=s, now=NOW) if r["activation_id"] == act)
    assert len(rels) > 50  # a level-I response moves many households: the test means something
    ledger = rows_under(wb["转移台账"])
    assert len(ledger) == len(rels)
    assert sum(r["人数"] for r in ledger) == sum(r.people for r in rels)
    assert {r["户编号"]: r["户主"] for r in ledger} == {
        r.household_code: heads[r.household_code] for r in rels
    }
    assert {r["状态"] for r in ledger} == {"未核实"}  # ordered, nobody answered yet
    assert sum(r["安置缺口"] == "是" for r in ledger) == sum(r.shortfall for r in rels)
    assert wb["转移台账"].freeze_panes == "A3"
    assert isinstance(ledger[0]["下达时间"], datetime)
    # times are local (Asia/Shanghai): 8 hours ahead of the UTC stored (XLSX keeps milliseconds)
    ordered = min(r.ordered_at for r in rels).astimezone(UTC).replace(tzinfo=None)
    shown = min(r["下达时间"] for r in ledger)
    assert abs(shown - (ordered + timedelta(hours=8))) < timedelta(milliseconds=1)

    overview = {r["项目"]: r["内容"] for r in rows_under(wb["概况"])}
    assert overview["乡镇"] == "鸡峰镇" and overview["响应级别"] == "Ⅰ级"
    assert overview["状态"] == "进行中" and overview["演练"] == "否"
    assert overview["应转移户数"] == len(rels)
    assert overview["应转移人数"] == sum(r.people for r in rels)
    assert overview["已转移户数"] == 0
    short = [r for r in rels if r.shortfall]
    assert overview["安置缺口人数"] == sum(r.people for r in short)

    shelters = {r["安置点"]: r for r in rows_under(wb["安置点"])}
    assert {name: r["本次安置（人）"] for name, r in shelters.items()} == {
        sh["name"]: sh["people"] for sh in status["shelters"]
    }
    assert all(r["剩余床位"] == r["容量（人）"] - r["本次安置（人）"] for r in shelters.values())
    assert rows_under(wb["时间线"])[0]["事项"] == "启动应急响应"


HOSTILE_VILLAGE = "=cmd|' /C calc'!A0"


def test_hostile_text_is_written_as_text_never_as_a_formula(db_url: str, tmp_path: Path) -> None:
    act = respond()
    with session_scope() as s:
        rels = list(s.exec(select(Relocation).where(Relocation.activation_id == act)))
        for rel, text in zip(rels, HOSTILE, strict=False):
            h = s.get(Household, rel.household_code)
            assert h is not None
            h.head_name = text
            s.add(h)
        village = s.get(Village, rels[0].village_code)
        assert village is not None
        village.name = HOSTILE_VILLAGE + "\x07"  # and a control character XLSX cannot hold
        s.add(village)
    path = tmp_path / "x.xlsx"
    wb = export(act, path)
    ws = wb["转移台账"]
    cells = {c.value: c for row in ws.iter_rows(min_row=3) for c in row if c.value in HOSTILE}
    assert set(cells) == set(HOSTILE)
    assert all(c.data_type == "s" and c.quotePrefix for c in cells.values())
    # the village renamed (whichever row its households landed on; the order is the DB's)
    named = [
        c for (c,) in ws.iter_rows(min_row=3, min_col=2, max_col=2) if c.value == HOSTILE_VILLAGE
    ]
    assert named and all(c.data_type == "s" and c.quotePrefix for c in named)
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)


def test_phone_numbers_are_masked_and_notice_bodies_left_out(db_url: str, tmp_path: Path) -> None:
    act = respond()
    with session_scope() as s:
        s.add(
            Notice(
                id=f"{act}:sms:test:H1",
                activation_id=act,
                channel="sms",
                purpose="relocation",
                audience="resident",
                recipient="621221106202-H0001",
                address=PHONE,
                locale="zh-CN",
                subject="转移通知",
                body="BODY-TEXT 请立即转移",
                status="failed",
                last_error=f"gateway: {PHONE} unknown",
                created_at=NOW,
            )
        )
        response.log_event(
            s, activation_id=act, key="t", actor="镇应急办", action="电话", detail=f"回拨 {PHONE}"
        )
    wb = export(act, tmp_path / "x.xlsx")
    texts = [str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c]
    assert not [t for t in texts if PHONE in t or "BODY-TEXT" in t]
    # under the title: the count table (header, 短信, 合计), a blank row, then the list
    notices = rows_under(wb["通知"], header_row=6)
    assert len(notices) == 1
    assert (
        notices[0] | {"渠道": "短信", "号码/群（已脱敏）": "139****5678", "状态": "发送失败"}
        == (notices[0])
    )
    assert notices[0]["错误"] == "gateway: 139****5678 unknown"
    assert wb["通知"].freeze_panes == "A7"  # under the list's header
    counts = rows_under(wb["通知"])
    assert counts == [
        {"渠道": "短信", "发送失败": 1, "合计": 1},
        {"渠道": "合计", "发送失败": 1, "合计": 1},
    ]
    assert "回拨 139****5678" in texts


def test_an_epidemic_response_exports_with_nobody_to_move(db_url: str, tmp_path: Path) -> None:
    from sanqing.epidemic import steps

    ensure_registry("jifeng")
    with session_scope() as s:
        steps.import_town_register(s, town="jifeng", file="registrations.csv", now=NOW)
    with session_scope() as s:
        act = steps.activate(s, town="jifeng", level=Level.III, drill=True, locale="zh-CN", now=NOW)
    wb = export(act.activation_id, tmp_path / "x.xlsx")
    overview = {r["项目"]: r["内容"] for r in rows_under(wb["概况"])}
    assert (overview["预案"], overview["响应级别"], overview["演练"]) == ("疫情防控", "Ⅲ级", "是")
    assert overview["应转移户数"] == 0 and rows_under(wb["转移台账"]) == []
    with session_scope() as s:
        n = len(list(s.exec(select(Notice.id).where(Notice.activation_id == act.activation_id))))
    assert n and len(rows_under(wb["通知"], header_row=2 + 2 + len(rows_under(wb["通知"])))) == n


def test_the_latest_activation_is_the_default_and_none_is_a_clear_error(db_url: str) -> None:
    with session_scope() as s, pytest.raises(SanqingError, match="no response or drill"):
        latest_activation_id(s)
    first = respond()
    with session_scope() as s:
        response.stand_down(session=s, activation_id=first, reason="解除")
    second = respond(now=NOW + timedelta(days=1), identifier="W-2")
    assert first != second
    with session_scope() as s:
        assert latest_activation_id(s) == second
        with pytest.raises(UnknownActivation, match="nope"):
            build_ledger(session=s, activation_id="nope")


def test_a_path_that_cannot_be_written_is_one_error_and_the_old_file_stays(
    db_url: str, tmp_path: Path
) -> None:
    act = respond()
    with session_scope() as s:
        ledger = build_ledger(session=s, activation_id=act)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(SanqingError, match="cannot write the workbook"):
        save_ledger(ledger, blocker / "x.xlsx")
    with pytest.raises(SanqingError, match=r"\.xlsx"):
        save_ledger(ledger, tmp_path / "x.csv")
    target = tmp_path / "out" / "x.xlsx"  # its folder is created
    save_ledger(ledger, target)
    assert load_workbook(target).sheetnames == SHEETS
    assert [p.name for p in target.parent.iterdir()] == ["x.xlsx"]  # no temporary file left


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_the_command_writes_the_latest_and_refuses_in_one_line(db_url: str, tmp_path: Path) -> None:
    code, output = run("--out", str(tmp_path / "x.xlsx"))
    assert code == 2 and "no response or drill" in output and "Traceback" not in output
    act = respond()
    code, output = run("--out", str(tmp_path / "x.xlsx"), "--activation", "flood-nope")
    assert code == 2 and "unknown activation 'flood-nope'" in output
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    code, output = run("--out", str(blocker / "x.xlsx"))
    assert code == 2 and "cannot write the workbook" in output
    code, output = run("--out", str(tmp_path / "台账.xlsx"))
    assert code == 0, output
    with session_scope() as s:
        n = len(list(s.exec(select(Relocation.id).where(Relocation.activation_id == act))))
    assert act in output and f"转移台账 {n} 行" in output
    assert load_workbook(tmp_path / "台账.xlsx").sheetnames == SHEETS
