"""摸排台账 read from CSV and XLSX: good rows kept, each bad one a line FILE:SHEET:ROW:COLUMN."""

from __future__ import annotations

import csv
from datetime import date, datetime
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
