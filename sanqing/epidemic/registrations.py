"""摸排台账: the villages' registers of returnees and outsiders, read from CSV or XLSX.

A register has a header row (Chinese or English column names) and one person a row.
Every sheet of a workbook is read; one whose header lacks a required column is
refused once, at its row 1 (a sheet of notes with no rows under its first is left
alone). A CSV is one sheet, called ``-``. A bad row is refused with one line,
``FILE:SHEET:ROW:COLUMN: reason`` (the row as the spreadsheet numbers it, the header
being row 1), and the good rows are kept. A reason never repeats a name, an ID number
or a phone number: those are personal data.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zipfile import BadZipFile

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlmodel import Session, col, select

from sanqing.epidemic.plan import EpidemicPlan
from sanqing.models import Household, RegisteredPerson, Town, Village
from sanqing.rules.arrivals import Arrival, risk_of

#: Column names accepted, per field (the first is the one the template uses).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "phone": ("联系电话", "电话", "phone"),
    "village": ("村", "所在村", "village"),
    "grid": ("网格", "grid"),
    "kind": ("人员类别", "类别", "kind"),
    "came_from": ("来源地区划代码", "来源地代码", "came_from"),
    "left_on": ("离开来源地日期", "离开日期", "left_on"),
    "arrived_on": ("到达日期", "返乡日期", "arrived_on"),
    "household": ("户编号", "所住户编号", "household"),  # optional: where they stay
}
REQUIRED = ("name", "village", "kind", "came_from", "left_on", "arrived_on")
PERSONAL = frozenset({"name", "id_number", "phone"})
KINDS = {
    "返乡人员": "returnee",
    "外来人员": "outsider",
    "returnee": "returnee",
    "outsider": "outsider",
}
CSV_SHEET = "-"


class Registration(BaseModel):
    """One person as a village registers them."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=40)
    id_number: str | None = Field(None, pattern=r"^\d{17}[\dXx]$")
    phone: str | None = Field(None, pattern=r"^1\d{10}$")
    village: str = Field(min_length=1, max_length=40)
    grid: str = ""
    kind: Literal["returnee", "outsider"]
    came_from: str = Field(pattern=r"^\d{2,12}$")
    left_on: date
    arrived_on: date
    household: str | None = Field(None, pattern=r"^[0-9A-Za-z_.\-]{1,40}$")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        return KINDS.get(str(value).strip(), value)

    @model_validator(mode="after")
    def _order(self) -> Registration:
        if self.arrived_on < self.left_on:
            raise ValueError("the arrival date is before the date they left")
        return self


@dataclass(frozen=True)
class RowRef:
    file: Path
    sheet: str
    row: int

    def __str__(self) -> str:
        return f"{self.file}:{self.sheet}:{self.row}"


@dataclass(frozen=True)
class RegistrationProblem:
    where: RowRef
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}:{self.column}: {self.reason}"


@dataclass
class Register:
    rows: list[tuple[RowRef, Registration]]
    problems: list[RegistrationProblem]


def read_registrations(path: Path) -> Register:
    """Every good row of the register at ``path``, and a problem for every bad one."""
    out = Register([], [])
    refused_sheets: set[str] = set()
    for ref, header, values in _rows(path, out):
        fields = _fields(header)
        missing = [f for f in REQUIRED if f not in fields]
        if missing:  # a sheet with rows but not the register's columns: said once
            if ref.sheet not in refused_sheets:
                refused_sheets.add(ref.sheet)
                out.problems.append(_header_problem(ref, missing))
            continue
        cells = {f: _cell(values, i) for f, i in fields.items()}
        record = {f: v for f, v in cells.items() if v is not None}  # empty: its default
        if not record:
            continue  # an empty line
        try:
            out.rows.append((ref, Registration.model_validate(record)))
        except ValidationError as exc:
            out.problems.extend(_problems(ref, header, fields, exc))
    return out


def _rows(path: Path, out: Register) -> Iterator[tuple[RowRef, list[Any], list[Any]]]:
    """(where, header, values) for each data row; an unreadable file is one problem."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            yield from _csv_rows(path)
        elif suffix == ".xlsx":
            yield from _xlsx_rows(path)
        else:
            out.problems.append(
                RegistrationProblem(RowRef(path, CSV_SHEET, 0), "-", "not a .csv or .xlsx file")
            )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, BadZipFile) as exc:
        reason = f"cannot read the file ({type(exc).__name__})"
        out.problems.append(RegistrationProblem(RowRef(path, CSV_SHEET, 0), "-", reason))


def _csv_rows(path: Path) -> Iterator[tuple[RowRef, list[Any], list[Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    if table:
        for n, values in enumerate(table[1:], start=2):
            yield RowRef(path, CSV_SHEET, n), table[0], values


def _xlsx_rows(path: Path) -> Iterator[tuple[RowRef, list[Any], list[Any]]]:
    from openpyxl import load_workbook  # only a workbook needs it

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            table = [list(r) for r in sheet.iter_rows(values_only=True)]
            if table:
                for n, values in enumerate(table[1:], start=2):
                    yield RowRef(path, sheet.title, n), table[0], values
    finally:
        book.close()


def _fields(header: list[Any]) -> dict[str, int]:
    names = [str(h).strip() if h is not None else "" for h in header]
    found: dict[str, int] = {}
    for key, accepted in COLUMNS.items():
        for i, name in enumerate(names):
            if name in accepted:
                found.setdefault(key, i)
    return found


def _cell(values: list[Any], i: int) -> Any:
    value = values[i] if i < len(values) else None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone or code typed as a number
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        value = value.strip()
    return value if value != "" else None


def _header_problem(ref: RowRef, missing: list[str]) -> RegistrationProblem:
    names = "、".join(COLUMNS[f][0] for f in missing)
    header = RowRef(ref.file, ref.sheet, 1)
    return RegistrationProblem(header, "-", f"no column for {', '.join(missing)} ({names})")


def _problems(
    ref: RowRef, header: list[Any], fields: dict[str, int], exc: ValidationError
) -> Iterator[RegistrationProblem]:
    for error in exc.errors():
        # the one check across fields is the order of the dates: it is the arrival's
        field = str(error["loc"][0]) if error["loc"] else "arrived_on"
        column = str(header[fields[field]]).strip() if field in fields else field
        reason = error["msg"].removeprefix("Value error, ")
        if field in PERSONAL and error["type"] == "string_pattern_mismatch":
            reason = f"not a valid {field.replace('_', ' ')}"  # never the pattern or the value
        yield RegistrationProblem(ref, column, reason)


# --- storing ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    problems: list[RegistrationProblem] = field(default_factory=list)
    by_risk: dict[str, int] = field(default_factory=dict)


def person_id(town_code: str, r: Registration, village_code: str) -> str:
    """The same person gives the same id: their ID number, else name, phone and village."""
    who = r.id_number.upper() if r.id_number else f"{r.name}|{r.phone or ''}|{village_code}"
    return f"{town_code}:{hashlib.sha256(who.encode('utf-8')).hexdigest()[:16]}"


def import_registrations(
    session: Session, *, town: Town, register: Register, plan: EpidemicPlan, now: datetime
) -> ImportReport:
    """Store the register's good rows for ``town`` (new or updated, never twice).

    A row naming a village the town does not have is refused like a bad row. Each
    person's risk class comes from the plan's risk areas.
    """
    villages = session.exec(select(Village).where(Village.town_code == town.code)).all()
    by_name = {v.name: v.code for v in villages} | {v.code: v.code for v in villages}
    homes = dict(
        session.exec(
            select(Household.code, Household.village_code).where(
                col(Household.village_code).in_([v.code for v in villages])
            )
        ).all()
    )
    report = ImportReport(problems=list(register.problems))
    areas = plan.areas()
    # one read of the town's register, not one query a row; a person twice in the file
    # is found here the second time
    known = {
        p.id: p
        for p in session.exec(
            select(RegisteredPerson).where(RegisteredPerson.town_code == town.code)
        )
    }
    for ref, r in register.rows:
        village_code = by_name.get(r.village)
        if village_code is None:
            report.problems.append(RegistrationProblem(ref, "村", f"not a village of {town.name}"))
            continue
        if r.household and homes.get(r.household) != village_code:
            report.problems.append(
                RegistrationProblem(ref, "户编号", f"not a household of {r.village} in the ledger")
            )
            continue
        arrival = Arrival(r.came_from, left_on=r.left_on, arrived_on=r.arrived_on)
        risk = risk_of(arrival, areas, lookback_days=plan.lookback_days)
        pid = person_id(town.code, r, village_code)
        row = known.get(pid)
        report.new += row is None
        report.updated += row is not None
        row = known[pid] = row or RegisteredPerson(id=pid, town_code=town.code)  # type: ignore[call-arg]
        for key, value in r.model_dump(exclude={"village", "household"}).items():
            setattr(row, key, value)
        row.household_code = r.household
        row.village_code, row.risk, row.source, row.imported_at = village_code, risk, str(ref), now
        session.add(row)
        report.by_risk[risk] = report.by_risk.get(risk, 0) + 1
    return report
