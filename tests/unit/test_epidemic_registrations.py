"""摸排台账 read from CSV and XLSX: good rows kept, each bad one a line FILE:SHEET:ROW:COLUMN."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import Workbook

from sanqing.epidemic.registrations import read_registrations

HEADER = [
    "姓名",
    "身份证号",
    "联系电话",
    "村",
    "网格",
    "人员类别",
    "来源地区划代码",
    "离开日期",
    "到达日期",
]
GOOD = [
    "张三",
    "62122119800101001X",
    "13912345678",
    "石门村",
    "一网格",
    "返乡人员",
    "420106",
    "2026-07-08",
    "2026-07-09",
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def test_a_csv_keeps_its_good_rows_and_names_each_bad_one(tmp_path: Path) -> None:
    bad_phone = [*GOOD[:2], "1391234", *GOOD[3:]]
    bad_dates = [*GOOD[:7], "2026-07-10", "2026-07-09"]
    bad_kind = [*GOOD[:5], "游客", *GOOD[6:]]
    path = write_csv(tmp_path / "石门村.csv", [GOOD, bad_phone, [], bad_dates, bad_kind])
    register = read_registrations(path)
    assert [(str(ref), r.kind, r.arrived_on) for ref, r in register.rows] == [
        (f"{path}:-:2", "returnee", date(2026, 7, 9))
    ]
    lines = [str(p) for p in register.problems]
    assert lines[0] == f"{path}:-:3:联系电话: not a valid phone"
    assert lines[1].startswith(f"{path}:-:5:到达日期: the arrival date is before")
    assert lines[2].startswith(f"{path}:-:6:人员类别: ")
    assert len(lines) == 3  # the empty line is no problem
    assert not any("1391234" in line or "张三" in line for line in lines)  # no personal data


def test_a_workbook_reads_every_sheet_with_excel_dates_and_numbers(tmp_path: Path) -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "石门村"
    first.append(["name", "phone", "village", "kind", "came_from", "left_on", "arrived_on"])
    first.append(
        [
            "李四",
            13900000001,
            "石门村",
            "outsider",
            6101,
            datetime(2026, 7, 1),
            datetime(2026, 7, 2),
        ]
    )
    first.append(["王五", None, "石门村", "outsider", "61", "2026-07-03", "not a date"])
    notes = book.create_sheet("说明")
    notes.append(["填表说明：每人一行"])  # notes alone: left alone
    wrong = book.create_sheet("鸡心村")
    wrong.append(["姓名", "村"])  # rows under a header without the register's columns
    wrong.append(["赵六", "鸡心村"])
    wrong.append(["钱七", "鸡心村"])
    path = tmp_path / "registers.xlsx"
    book.save(path)
    register = read_registrations(path)
    [(ref, person)] = register.rows
    assert str(ref) == f"{path}:石门村:2"
    assert (person.phone, person.came_from, person.left_on) == (
        "13900000001",
        "6101",
        date(2026, 7, 1),
    )
    lines = [str(p) for p in register.problems]
    assert lines[0].startswith(f"{path}:石门村:3:arrived_on: ")
    assert lines[1].startswith(f"{path}:鸡心村:1:-: no column for kind, came_from")
    assert len(lines) == 2


def test_a_file_that_is_no_register_is_one_problem(tmp_path: Path) -> None:
    other = tmp_path / "register.txt"
    other.write_text("x", encoding="utf-8")
    assert [str(p) for p in read_registrations(other).problems] == [
        f"{other}:-:0:-: not a .csv or .xlsx file"
    ]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    (problem,) = read_registrations(broken).problems
    assert str(problem).startswith(f"{broken}:-:0:-: cannot read the file")


def test_import_loads_good_rows_once_refuses_the_rest_and_classes_each_person(
    db_url: str, tmp_path: Path
) -> None:
    from sqlmodel import select
    from typer.testing import CliRunner

    from cli import app
    from sanqing.db import session_scope
    from sanqing.models import RegisteredPerson

    other_village = [*GOOD[:3], "不存在村", *GOOD[4:]]
    no_id = [
        "李四",
        "",
        "13900000002",
        "鸡心村",
        "",
        "外来人员",
        "6101",
        "2026-07-01",
        "2026-07-02",
    ]
    safe = [
        "王五",
        "",
        "13900000003",
        "鸡心村",
        "",
        "返乡人员",
        "621221",
        "2026-07-01",
        "2026-07-02",
    ]
    bad_id = [GOOD[0], "12345", *GOOD[2:]]
    path = write_csv(tmp_path / "registers.csv", [GOOD, other_village, no_id, safe, bad_id])
    runner = CliRunner()
    first = runner.invoke(app, ["import", "registrations", str(path), "--town", "jifeng"])
    assert first.exit_code == 1, first.output
    assert "新增 new 3，更新 updated 0" in first.output
    assert f"{path}:-:3:村: not a village of 鸡峰镇" in first.output
    assert f"{path}:-:6:身份证号: not a valid id number" in first.output
    assert "12345" not in first.output  # the bad ID number is not repeated
    with session_scope() as s:
        people = {p.name: p for p in s.exec(select(RegisteredPerson))}
    assert {n: p.risk for n, p in people.items()} == {"张三": "high", "李四": "low", "王五": "none"}
    assert people["张三"].source == f"{path}:-:2"
    # the same register again: the same people updated, nobody twice
    again = runner.invoke(app, ["import", "registrations", str(path), "--town", "jifeng"])
    assert "新增 new 0，更新 updated 3" in again.output
    with session_scope() as s:
        assert len(s.exec(select(RegisteredPerson)).all()) == 3


def test_import_of_a_missing_file_or_unknown_town_is_one_line(db_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app

    runner = CliRunner()
    missing = runner.invoke(
        app, ["import", "registrations", str(tmp_path / "no.csv"), "--town", "jifeng"]
    )
    assert missing.exit_code != 0 and "no such file" in missing.output
    path = write_csv(tmp_path / "r.csv", [GOOD])
    unknown = runner.invoke(app, ["import", "registrations", str(path), "--town", "nowhere"])
    assert unknown.exit_code != 0 and "nowhere" in unknown.output


def test_the_sample_register_imports_whole_with_every_risk_class(db_url: str) -> None:
    from sanqing.db import session_scope
    from sanqing.epidemic.plan import load_epidemic_plan
    from sanqing.epidemic.registrations import import_registrations
    from sanqing.registry import ensure_registry, find_town
    from sanqing.settings import REPO_ROOT

    ensure_registry("jifeng")
    register = read_registrations(REPO_ROOT / "config" / "towns" / "jifeng" / "registrations.csv")
    assert register.problems == [] and len(register.rows) == 60
    with session_scope() as s:
        report = import_registrations(
            s,
            town=find_town(s, "jifeng"),
            register=register,
            plan=load_epidemic_plan(),
            now=datetime(2026, 7, 21, tzinfo=UTC),
        )
    assert report.problems == [] and report.new == 60
    assert set(report.by_risk) == {"high", "medium", "low", "none"}
