"""Ledgers kept as Excel workbooks: the same registry as the CSVs, errors by sheet, row and column."""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import delete
from sqlmodel import Session, SQLModel, select

from sanqing import db
from sanqing.errors import ConfigError, RegistryError, RowProblem
from sanqing.models import Household, Town
from sanqing.registry import FILES, load_town_dir
from sanqing.settings import REPO_ROOT

JIFENG_DIR = REPO_ROOT / "config" / "towns" / "jifeng"
TABLES: tuple[type[SQLModel], ...] = (Town, *(ledger.table for ledger in FILES))
FLAGS = ("five_guarantee", "left_behind_children", "hardship", "elderly_alone")
HOUSEHOLDS_SHEET = "户籍"
HEADER_ROW = 3  # households.xlsx has two blank rows above its header


def _table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _typed(text: str) -> Any:
    """The value as someone typing it into Excel gets it: digits become a number."""
    if re.fullmatch(r"[0-9]{1,15}", text):
        return int(text)  # longer digit strings (ID numbers) were kept as text
    if re.fullmatch(r"[0-9]+\.[0-9]+", text):
        return float(text)
    return text or None


def _to_xlsx(town_dir: Path, name: str) -> None:
    """Replace ``name`` (a CSV) by a workbook of the same stem, as a township keeps it."""
    table = _table(town_dir / name)
    (town_dir / name).unlink()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    key = name.removesuffix(".csv")
    sheet.title = key
    skip = 0
    if key == "households":
        sheet.title, skip = HOUSEHOLDS_SHEET, HEADER_ROW - 1  # the first sheet, not named so
        book.create_sheet("说明").append(["这张表不是户籍", "code", "phone"])
    elif key == "cadres":
        sheet.title = "说明"  # the sheet named as the ledger is read, wherever it is
        sheet.append(["本表为花名册说明"])
        sheet = book.create_sheet("cadres")
    elif key == "roads":
        sheet.title = "代码表"  # a hidden first sheet (a code list) is passed over
        sheet.append(["道路等级", "县道", "乡道"])
        sheet.sheet_state = "hidden"
        sheet = book.create_sheet("道路")
    for _ in range(skip):
        sheet.append([])
    flags = {table[0].index(f) for f in FLAGS if f in table[0]}
    for i, row in enumerate(table):
        values = [_typed(v) if i else v for v in row]
        if i:  # a flag kept as Excel's TRUE / FALSE
            values = [v == 1 if j in flags else v for j, v in enumerate(values)]
        sheet.append(values)
    book.save(town_dir / f"{key}.xlsx")


@pytest.fixture
def xlsx_town(tmp_path: Path) -> Path:
    town_dir = tmp_path / "jifeng"
    shutil.copytree(JIFENG_DIR, town_dir)
    for ledger in FILES:
        _to_xlsx(town_dir, ledger.name)
    return town_dir


def _snapshot(session: Session) -> dict[str, list[dict[str, Any]]]:
    return {
        t.__tablename__: sorted(  # type: ignore[attr-defined]
            (r.model_dump() for r in session.exec(select(t)).all()), key=repr
        )
        for t in TABLES
    }


def _edit(path: Path, sheet: str, cells: dict[str, Any]) -> None:
    book = load_workbook(path)
    for ref, value in cells.items():
        book[sheet][ref] = value
    book.save(path)


def _rewrite_sheets(path: Path, change: Callable[[bytes], bytes]) -> None:
    """Rewrite the XML of the workbook's sheets, as no spreadsheet program would let us."""
    source = path.with_suffix(".orig")
    path.rename(source)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = change(data)
            zout.writestr(item, data)
    source.unlink()


def _write_raw(path: Path, cells: dict[str, str]) -> None:
    """Write the first sheet's cells as other programs store numbers (``1.3800138E10``)."""

    def change(data: bytes) -> bytes:
        for ref, text in cells.items():
            cell = re.compile(rf'(<c r="{ref}"[^>]*><v>)[^<]*(</v>)'.encode())
            data = cell.sub(rb"\g<1>" + text.encode() + rb"\g<2>", data)
        return data

    _rewrite_sheets(path, change)
    book = load_workbook(path, read_only=True)
    for ref, text in cells.items():  # the cells hold whole numbers as floats
        value = book.worksheets[0][ref].value
        assert isinstance(value, float) and value == float(text)
    book.close()


def _column(name: str) -> str:
    return get_column_letter(_table(JIFENG_DIR / "households.csv")[0].index(name) + 1)


def _only(problems: list[RowProblem], file: str, row: int) -> RowProblem:
    (p,) = [p for p in problems if p.file.name == file and p.row == row]
    return p


def test_an_xlsx_town_loads_the_same_registry_as_its_csv_town(db_url: str, xlsx_town: Path) -> None:
    assert not list(xlsx_town.glob("villages.csv")) and (xlsx_town / "households.xlsx").is_file()
    with db.session_scope() as session:
        from_csv = load_town_dir(session, JIFENG_DIR)
    with db.session_scope() as session:
        expected = _snapshot(session)
    with db.session_scope() as session:
        for t in reversed(TABLES):
            session.exec(delete(t))  # type: ignore[call-overload]
    with db.session_scope() as session:
        from_xlsx = load_town_dir(session, xlsx_town)
    assert from_xlsx.problems == [] and from_xlsx.counts == from_csv.counts
    with db.session_scope() as session:
        loaded = _snapshot(session)
    assert len(loaded["household"]) > 1000 and any(h["hardship"] for h in loaded["household"])
    for table, rows in expected.items():
        assert loaded[table] == rows, table


def test_a_bad_cell_names_the_sheet_the_excel_row_and_the_column(
    db_url: str, xlsx_town: Path
) -> None:
    threats = _table(JIFENG_DIR / "hazard_threats.csv")
    households = _table(JIFENG_DIR / "households.csv")
    threatened = {r[1] for r in threats[1:]}
    index = next(i for i, r in enumerate(households) if i and r[0] in threatened)
    row = HEADER_ROW + index  # the header is row 3, its first household row 4
    phone = _column("phone")
    _edit(xlsx_town / "households.xlsx", HOUSEHOLDS_SHEET, {f"{phone}{row}": 1380013800})

    with db.session_scope() as session:
        report = load_town_dir(session, xlsx_town)

    p = _only(report.problems, "households.xlsx", row)
    assert (p.sheet, p.column, p.letter) == (HOUSEHOLDS_SHEET, "phone", "G")
    assert str(p).startswith(f"households.xlsx 工作表「户籍」第 {row} 行 G 列（phone）: ")
    assert "1380013800" not in str(p)  # a phone number is personal data
    threat_problems = [q for q in report.problems if q.file.name == "hazard_threats.xlsx"]
    assert threat_problems and all(q.sheet == "hazard_threats" for q in threat_problems)
    assert f"(households.xlsx 工作表「户籍」第 {row} 行)" in threat_problems[0].reason
    assert report.counts["households"] == len(households) - 2  # the header and the bad row
    with db.session_scope() as session:
        assert session.get(Household, households[index][0]) is None
        assert session.get(Household, households[index + 1][0]) is not None


def test_numbers_stored_as_numbers_read_as_the_csv_text(db_url: str, xlsx_town: Path) -> None:
    households = _table(JIFENG_DIR / "households.csv")
    threatened = {r[1] for r in _table(JIFENG_DIR / "hazard_threats.csv")[1:]}
    free = [i for i, r in enumerate(households) if i and r[0] not in threatened]
    as_int, as_float, long_id, error, a_date = free[:5]
    col = {n: _column(n) for n in ("phone", "members", "head_id_number", "house_type", "address")}
    _edit(
        xlsx_town / "households.xlsx",
        HOUSEHOLDS_SHEET,
        {
            f"{col['phone']}{HEADER_ROW + as_int}": 13800138000,
            f"{col['phone']}{HEADER_ROW + as_float}": 1,
            f"{col['members']}{HEADER_ROW + as_float}": 1,
            f"{col['head_id_number']}{HEADER_ROW + long_id}": 621221198001010123,
            f"{col['house_type']}{HEADER_ROW + error}": "#N/A",
            f"{col['address']}{HEADER_ROW + a_date}": datetime(2026, 5, 1),
            f"{col['house_type']}{HEADER_ROW + a_date}": datetime(2026, 5, 1, 8, 30),
        },
    )
    _write_raw(  # as floats, the way other spreadsheet programs write whole numbers
        xlsx_town / "households.xlsx",
        {
            f"{col['phone']}{HEADER_ROW + as_float}": "1.3800138E10",
            f"{col['members']}{HEADER_ROW + as_float}": "5.0",
        },
    )
    with db.session_scope() as session:
        report = load_town_dir(session, xlsx_town)

    p = _only(report.problems, "households.xlsx", HEADER_ROW + long_id)
    assert p.column == "head_id_number" and "15 digits" in p.reason and "6212211980" not in str(p)
    p = _only(report.problems, "households.xlsx", HEADER_ROW + error)
    assert p.column == "house_type" and "#N/A" in p.reason
    assert len(report.problems) == 2
    with db.session_scope() as session:
        for i in (as_int, as_float):
            household = session.get(Household, households[i][0])
            assert household is not None and household.phone == "13800138000"
        household = session.get(Household, households[as_float][0])
        assert household is not None and household.members == 5
        assert session.get(Household, households[long_id][0]) is None
        household = session.get(Household, households[a_date][0])
        assert household is not None and household.address == "2026-05-01"
        assert household.house_type == "2026-05-01 08:30:00"


def test_a_formula_looking_cell_is_read_as_its_text(db_url: str, xlsx_town: Path) -> None:
    households = _table(JIFENG_DIR / "households.csv")
    code, row = households[7][0], HEADER_ROW + 7
    book = load_workbook(xlsx_town / "households.xlsx")
    cell = book[HOUSEHOLDS_SHEET][f"{_column('address')}{row}"]
    cell.value = "=cmd|' /C calc'!A0"
    cell.data_type = "s"  # typed as text, as a CSV cell would be
    book.save(xlsx_town / "households.xlsx")
    with db.session_scope() as session:
        assert load_town_dir(session, xlsx_town).problems == []
    with db.session_scope() as session:
        household = session.get(Household, code)
        assert household is not None and household.address == "=cmd|' /C calc'!A0"


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _broken_sheet_xml(path: Path) -> None:
    _rewrite_sheets(path, lambda data: data[: len(data) // 2])


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p.write_text("code,name\n1,2\n", encoding="utf-8"),  # a CSV renamed .xlsx
        lambda p: p.write_bytes(b""),
        _truncated,
        _broken_sheet_xml,
    ],
    ids=["csv-renamed", "empty", "truncated", "broken-sheet-xml"],
)
def test_a_broken_workbook_is_one_clear_error(db_url: str, xlsx_town: Path, spoil: Any) -> None:
    spoil(xlsx_town / "roads.xlsx")
    with pytest.raises(ConfigError) as caught, db.session_scope() as session:
        load_town_dir(session, xlsx_town)
    message = str(caught.value)
    assert "roads.xlsx" in message and "not a readable Excel workbook" in message
    assert "\n" not in message
    with db.session_scope() as session:
        assert session.exec(select(Town)).first() is None


def test_a_ledger_both_as_csv_and_as_workbook_is_refused(db_url: str, xlsx_town: Path) -> None:
    shutil.copy(JIFENG_DIR / "shelters.csv", xlsx_town / "shelters.csv")
    both = r"both shelters\.csv and shelters\.xlsx"
    with pytest.raises(ConfigError, match=both), db.session_scope() as session:
        load_town_dir(session, xlsx_town)


def test_a_workbook_header_is_checked_like_a_csv_header(db_url: str, xlsx_town: Path) -> None:
    capacity = _table(JIFENG_DIR / "shelters.csv")[0].index("capacity") + 1
    book = load_workbook(xlsx_town / "shelters.xlsx")
    book["shelters"].cell(row=1, column=capacity, value="places")
    book.save(xlsx_town / "shelters.xlsx")
    households = load_workbook(xlsx_town / "households.xlsx")
    households[HOUSEHOLDS_SHEET]["V3"] = "phone"  # a second phone column
    households.save(xlsx_town / "households.xlsx")
    with pytest.raises(RegistryError) as caught, db.session_scope() as session:
        load_town_dir(session, xlsx_town)
    shelters, phones = sorted(caught.value.problems, key=lambda p: p.file.name, reverse=True)
    assert (shelters.file.name, shelters.sheet, shelters.row, shelters.column) == (
        "shelters.xlsx",
        "shelters",
        1,
        "capacity",
    )
    assert (phones.row, phones.column) == (HEADER_ROW, "phone")
    assert "columns G and V" in phones.reason


def test_a_value_in_a_column_without_header_refuses_its_row(db_url: str, xlsx_town: Path) -> None:
    households = _table(JIFENG_DIR / "households.csv")
    threatened = {r[1] for r in _table(JIFENG_DIR / "hazard_threats.csv")[1:]}
    i = next(i for i, r in enumerate(households) if i and r[0] not in threatened)
    _edit(xlsx_town / "households.xlsx", HOUSEHOLDS_SHEET, {f"X{HEADER_ROW + i}": "备注"})
    with db.session_scope() as session:
        report = load_town_dir(session, xlsx_town)
    (p,) = report.problems
    assert (p.row, p.column) == (HEADER_ROW + i, None) and "column X" in p.reason
    assert str(p).startswith(f"households.xlsx 工作表「户籍」第 {HEADER_ROW + i} 行: ")


def test_a_header_alone_is_an_empty_ledger_and_an_empty_sheet_an_error(
    db_url: str, xlsx_town: Path
) -> None:
    header = _table(JIFENG_DIR / "machinery.csv")[0]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    book.save(xlsx_town / "machinery.xlsx")
    with db.session_scope() as session:
        report = load_town_dir(session, xlsx_town)
    assert report.problems == [] and report.counts["machinery"] == 0

    Workbook().save(xlsx_town / "machinery.xlsx")
    with pytest.raises(ConfigError) as caught, db.session_scope() as session:
        load_town_dir(session, xlsx_town)
    assert "machinery.xlsx 工作表「Sheet」: the sheet is empty" in str(caught.value)
