"""`sanqing drill` then `sanqing export`: the workbook's figures are the database's and status's."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.labels import label
from sanqing.models import Household, Notice, Relocation, Report, TimelineEvent
from tests.workbooks import rows_under

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_export_of_a_drill_agrees_with_the_database_and_status(
    db_url: str, tmp_path: Path
) -> None:
    invoke("drill", "--out", str(tmp_path / "drill"))
    summary = json.loads((tmp_path / "drill" / "summary.json").read_text(encoding="utf-8"))
    output = invoke("export", "--out", str(tmp_path / "台账.xlsx"))  # the latest: the drill
    # the drill ran on its scenario's clock (July): ask status for every response there is
    (status,) = [
        json.loads(line) for line in invoke("status", "--json", "--days", "100000").splitlines()
    ]
    assert status["activation_id"] == summary["activation_id"] and status["activation_id"] in output
    wb = load_workbook(tmp_path / "台账.xlsx")

    overview = {r["项目"]: r["内容"] for r in rows_under(wb["概况"], 2)}
    for name, key in (
        ("应转移户数", "households_to_relocate"),
        ("已转移户数", "households_relocated"),
        ("已转移人数", "people_relocated"),
        ("安置缺口人数", "shelter_shortfall_people"),
        ("拒绝转移户数", "households_refused"),
    ):
        assert overview[name] == summary[key], name
    assert overview["在安置点人数"] == summary["whereabouts"]["in_shelter"]["people"]
    assert overview["演练"] == "是" and overview["状态"] == "已结束"
    assert overview["响应级别"] == label("zh-CN", "level", status["level"])

    shelters = {r["安置点"]: r["本次安置（人）"] for r in rows_under(wb["安置点"], 2)}
    assert shelters == {s["name"]: s["people"] for s in status["shelters"]}

    with session_scope() as s:
        rels = list(s.exec(select(Relocation)))
        heads = {h.code: h.head_name for h in s.exec(select(Household))}
        phones = {h.phone for h in s.exec(select(Household)) if h.phone}
        notices = list(s.exec(select(Notice)))
        n_events = len(list(s.exec(select(TimelineEvent.id))))
        reports = list(s.exec(select(Report)))
    ledger = rows_under(wb["转移台账"], 2)
    assert len(ledger) == len(rels) == summary["households_to_relocate"]
    assert Counter(r["状态"] for r in ledger) == Counter(
        label("zh-CN", "relocation", r.status) for r in rels
    )
    assert {r["户编号"]: r["户主"] for r in ledger} == {
        r.household_code: heads[r.household_code] for r in rels
    }
    assert f"转移台账 {len(rels)} 行" in output

    counts = rows_under(wb["通知"], 2)
    assert counts[-1]["渠道"] == "合计" and counts[-1]["合计"] == len(notices)
    by_channel = {r["渠道"]: r["已发送"] for r in counts[:-1]}
    assert by_channel == {
        label("zh-CN", "channel", c): n for c, n in summary["notices_by_channel"].items()
    }
    listed = rows_under(wb["通知"], len(counts) + 4)  # title, header, counts, blank, header
    assert len(listed) == len(notices)
    assert len(rows_under(wb["时间线"], 2)) == n_events
    assert [r["类别"] for r in rows_under(wb["报告"], 2)] == ["首报", "续报", "终报"]
    assert len(reports) == 3
    # no resident's phone anywhere in the workbook
    cells = {str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v}
    assert not [c for c in cells if any(p in c for p in phones)]
