"""Loading a town directory into the registry tables: validated, in dependency order, idempotent.

A row that refers to a refused row is refused too, and says so; nothing is dropped
without a problem saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)
from sqlmodel import Session, select

from sanqing import db
from sanqing.errors import ConfigError, RegistryError, RowProblem
from sanqing.models import (
    CadreRole,
    HazardThreat,
    Town,
    Village,
)
from sanqing.registry.files import (
    CELL_MARK,
    SHAPE_MARK,
    LedgerRead,
    LoadReport,
    column_of,
    read_csv,
    read_town_file,
    reason_of,
)
from sanqing.registry.rows import FILES, TOWN_FILE, WITH_TOWN_CODE, LedgerFile, TownFile
from sanqing.registry.xlsx import read_xlsx
from sanqing.rules.shelters import is_medical_unit

# --- loading ------------------------------------------------------------------------------


class _Loader:
    """Validate the rows of one town directory against each other, in memory."""

    def __init__(self, town: TownFile, reads: dict[str, LedgerRead]) -> None:
        self.town = town
        #: file name (``households.csv``) → what was read of it, from its CSV or workbook
        self.reads = reads
        self.problems: list[RowProblem] = []
        #: file name → code → the validated row (good rows only)
        self.good: dict[str, dict[str, dict[str, Any]]] = {f.name: {} for f in FILES}
        #: file name → code → the line of the refused row
        self.refused: dict[str, dict[str, int]] = {f.name: {} for f in FILES}
        #: file name → code → the line of its (first) row
        self.lines: dict[str, dict[str, int]] = {f.name: {} for f in FILES}

    def problem(self, file: str, line: int, column: str | None, reason: str) -> None:
        self.problems.append(self.reads[file].problem(line, column, reason))

    def rows(
        self,
        ledger: LedgerFile,
        check: Callable[[int, dict[str, Any]], list[tuple[str | None, str]]],
        key: Callable[[dict[str, Any]], str] = lambda r: str(r.get("code") or "").strip(),
    ) -> None:
        """Validate each row, run ``check`` on it, and keep it or refuse it."""
        first_line = self.lines[ledger.name]
        key_column = "code" if "code" in ledger.required else None
        good = self.good[ledger.name]
        refused = self.refused[ledger.name]
        read = self.reads[ledger.name]
        line_word = "line" if read.sheet is None else "row"
        for line, raw in read.rows:
            code = key(raw)
            found: list[tuple[str | None, str]] = list(raw.pop(CELL_MARK, []))
            if SHAPE_MARK in raw:
                got, want = raw.pop(SHAPE_MARK)
                found.append((None, f"{got} fields where the header has {want}"))
            if code and code in first_line:
                first = first_line[code]
                found.append((key_column, f"duplicate {code!r}: first on {line_word} {first}"))
            elif code:
                first_line[code] = line
            if not found:
                try:
                    row = ledger.row.model_validate(raw).model_dump(mode="json")
                except ValidationError as exc:
                    found.extend((column_of(e), reason_of(e)) for e in exc.errors())
                else:
                    found.extend(check(line, row))
            if found:
                for column, reason in found:
                    self.problem(ledger.name, line, column, reason)
                if code and code not in good:
                    refused.setdefault(code, line)
            else:
                good[code] = row

    def ref(
        self, row: dict[str, Any], column: str, file: str, *, required: bool = True
    ) -> tuple[str | None, str] | None:
        """Check that ``row[column]`` names a good row of ``file``; return the problem if not."""
        value = row.get(column)
        if value is None:
            return (column, "a value is required") if required else None
        if value in self.good[file]:
            return None
        if value in self.refused[file]:
            place = self.reads[file].place(self.refused[file][value])
            return (column, f"{value!r} was refused ({place}), so this row is refused too")
        return (column, f"{value!r} is not in {self.reads[file].path.name}")

    def same_village(
        self, row: dict[str, Any], column: str, file: str
    ) -> tuple[str | None, str] | None:
        other = self.good[file].get(row.get(column) or "")
        if row["village_code"] not in self.good["villages.csv"]:
            return None  # the village itself is the problem, reported on its own
        if other is not None and other["village_code"] != row["village_code"]:
            return (
                column,
                f"{row[column]!r} belongs to village {other['village_code']}, "
                f"not {row['village_code']}",
            )
        return None

    # one check per file ------------------------------------------------------------------

    def check_village(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        found: list[tuple[str | None, str]] = []
        if row["town_code"] is not None and row["town_code"] != self.town.code:
            found.append(("town_code", f"{row['town_code']!r} is not this town ({self.town.code})"))
        if not row["code"].startswith(self.town.code):
            found.append(("code", f"a village code of town {self.town.code} starts with it"))
        return found

    def check_team(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return _some(self.ref(row, "village_code", "villages.csv"))

    def check_cadre(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        if row["village_code"] is None:
            if row["role"] != CadreRole.TOWN_LEADER:
                return [("village_code", f"a {row['role']} needs the village they serve")]
            found = []
        else:
            found = _some(self.ref(row, "village_code", "villages.csv"))
        if row["team_code"] is not None:
            found += _some(
                self.ref(row, "team_code", "teams.csv"),
                self.same_village(row, "team_code", "teams.csv"),
            )
        return found

    def check_grid(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return _some(
            self.ref(row, "village_code", "villages.csv"),
            self.ref(row, "responsible_cadre_code", "cadres.csv", required=False),
        )

    def check_road(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return _some(self.ref(row, "village_code", "villages.csv"))

    def check_household(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return _some(
            self.ref(row, "village_code", "villages.csv"),
            self.ref(row, "grid_code", "grids.csv", required=False),
            self.same_village(row, "grid_code", "grids.csv"),
            self.ref(row, "responsible_cadre_code", "cadres.csv", required=False),
        )

    def check_hazard(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return _some(
            self.ref(row, "village_code", "villages.csv"),
            self.ref(row, "monitor_cadre_code", "cadres.csv", required=False),
            self.ref(row, "road_code", "roads.csv", required=False),
        )

    def check_threat(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return _some(
            self.ref(row, "hazard_code", "hazard_points.csv"),
            self.ref(row, "household_code", "households.csv"),
        )

    def check_shelter(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        medical = (
            ("name", "the town's 卫生院 (medical_unit) treats the hurt: never a shelter")
            if is_medical_unit(row["name"], row["kind"], self.town.medical_unit)
            else None
        )
        return _some(
            self.ref(row, "village_code", "villages.csv"),
            self.ref(row, "manager_cadre_code", "cadres.csv", required=False),
            medical,
        )

    def check_machine(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return []


def _some(*found: tuple[str | None, str] | None) -> list[tuple[str | None, str]]:
    return [f for f in found if f is not None]


def _threat_key(raw: dict[str, Any]) -> str:
    return f"{str(raw.get('hazard_code') or '').strip()}|{str(raw.get('household_code') or '').strip()}"


def load_town_dir(session: Session, town_dir: Path) -> LoadReport:
    """Load a town directory into the registry; refuse (and report) bad rows, upsert the rest.

    Raises ``ConfigError`` when ``town.yaml`` or a ledger file is missing or unreadable
    (or a ledger is there both as CSV and as workbook), and ``RegistryError`` when a
    file lacks a required column; nothing is written then.
    Otherwise returns a ``LoadReport``: call ``raise_for_problems()`` to insist on a
    clean ledger. The caller's session commits.
    """
    town_dir = Path(town_dir)
    town = read_town_file(town_dir / TOWN_FILE)
    reads = {ledger.name: read_ledger(town_dir, ledger) for ledger in FILES}
    header_problems = [p for read in reads.values() for p in read.problems]
    if header_problems:
        raise RegistryError(header_problems)
    _check_town_key(session, town, town_dir)

    loader = _Loader(town, reads)
    checks: dict[str, Callable[[int, dict[str, Any]], list[tuple[str | None, str]]]] = {
        "villages.csv": loader.check_village,
        "teams.csv": loader.check_team,
        "cadres.csv": loader.check_cadre,
        "grids.csv": loader.check_grid,
        "roads.csv": loader.check_road,
        "households.csv": loader.check_household,
        "hazard_points.csv": loader.check_hazard,
        "hazard_threats.csv": loader.check_threat,
        "shelters.csv": loader.check_shelter,
        "machinery.csv": loader.check_machine,
    }
    for ledger in FILES:
        if ledger.table is HazardThreat:
            loader.rows(ledger, checks[ledger.name], key=_threat_key)
        else:
            loader.rows(ledger, checks[ledger.name])
        if ledger.table is Village:
            _check_village_owners(session, loader)

    report = LoadReport(town_code=town.code, town_dir=town_dir, problems=loader.problems)
    db.upsert(session, Town, [town.model_dump(mode="json")], update=None)
    report.counts["town"] = 1
    for ledger in FILES:
        rows = list(_table_rows(ledger, loader.good[ledger.name].values(), town.code))
        db.upsert(session, ledger.table, rows, update=None)
        report.counts[ledger.key] = len(rows)
    session.flush()
    return report


def read_ledger(town_dir: Path, ledger: LedgerFile) -> LedgerRead:
    """Read a ledger from its CSV or, failing that, its workbook (``households.xlsx``).

    Both in one directory is refused: which one is current cannot be guessed.
    """
    csv_path = town_dir / ledger.name
    xlsx_path = csv_path.with_suffix(".xlsx")
    if xlsx_path.is_file() and csv_path.exists():
        raise ConfigError(
            f"{town_dir}: both {csv_path.name} and {xlsx_path.name} hold the {ledger.key} ledger; "
            "keep the one that is current and move the other out of the directory"
        )
    if xlsx_path.is_file():
        return read_xlsx(xlsx_path, ledger)
    return read_csv(csv_path, ledger)


def _table_rows(
    ledger: LedgerFile, rows: Iterable[dict[str, Any]], town_code: str
) -> Iterator[dict[str, Any]]:
    columns = set(ledger.table.model_fields)
    add_town = ledger.table in WITH_TOWN_CODE or ledger.table is Village
    for row in rows:
        out = {k: v for k, v in row.items() if k in columns}
        if add_town:
            out["town_code"] = town_code
        yield out


def _check_town_key(session: Session, town: TownFile, town_dir: Path) -> None:
    other = session.exec(
        select(Town.code).where(Town.key == town.key, Town.code != town.code)
    ).first()
    if other is not None:
        raise ConfigError(
            f"{town_dir / TOWN_FILE}: key {town.key!r} already belongs to town {other}; "
            "choose another key or fix the code"
        )


def _check_village_owners(session: Session, loader: _Loader) -> None:
    """Refuse villages already registered under another town (an upsert would move them)."""
    good = loader.good["villages.csv"]
    if not good:
        return
    owned = session.exec(
        select(Village.code, Village.town_code).where(
            Village.code.in_(list(good)),  # type: ignore[attr-defined]
            Village.town_code != loader.town.code,
        )
    ).all()
    for code, owner in owned:
        line = loader.lines["villages.csv"][code]
        loader.problem("villages.csv", line, "code", f"{code!r} is registered under town {owner}")
        del good[code]
        loader.refused["villages.csv"][code] = line
