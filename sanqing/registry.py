"""The registry loader: a town directory of ledger files → the registry tables.

A town directory (``config/towns/<key>/``) holds ``town.yaml`` and one UTF-8 CSV
per ledger (see ``FILES``). Every row is validated by a pydantic model of its
file, then checked against the rows it refers to. Good rows are upserted in
dependency order, so loading a corrected ledger updates rows and loading twice
changes nothing. A bad row is refused with a ``RowProblem`` naming the file, the
line and the column; a row that refers to a refused row is refused too, and says
so. Nothing is dropped without a problem saying why.

What looks right and is not is refused too: a header naming a column twice (a row
would keep only the last value), a code, ID or phone number with a full-width or
other non-ASCII digit or an invisible character (it would be another key). Names
are NFC-normalised and lose invisible format characters (zero-width spaces, bidi
controls); a control character in a name refuses the row.
"""

from __future__ import annotations

import csv
import unicodedata
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from sanqing import db
from sanqing.errors import ConfigError, RegistryError, RowProblem, UnknownTown
from sanqing.models import (
    AssistanceTeam,
    Cadre,
    CadreRole,
    Grid,
    HazardKind,
    HazardPoint,
    HazardThreat,
    Household,
    Machine,
    RiskLevel,
    RoadSegment,
    SafetyRating,
    Shelter,
    Town,
    Village,
    Zone,
)
from sanqing.settings import get_settings

TOWN_FILE = "town.yaml"
#: Columns whose values are personal data: never echoed in a problem message.
PERSONAL_COLUMNS = frozenset({"head_name", "head_id_number", "phone", "operator_phone"})
#: Longest value quoted back in a problem message.
ECHO_MAX = 40

# --- field types --------------------------------------------------------------------------


def _flag(value: Any) -> Any:
    if value is None or value == "" or value is False or value == 0:
        return False
    if value is True or value == 1 or value == "1":
        return True
    if value == "0":
        return False
    raise ValueError("expected 1 or 0")


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _to_str(value: Any) -> Any:
    # YAML reads an unquoted 621221106 as a number; a code is text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _char(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '(unnamed)')}"


def _code_char_problem(ch: str) -> str | None:
    """What is wrong with ``ch`` in a code, ID number or phone number; None if nothing."""
    if unicodedata.category(ch) in ("Cc", "Cf"):
        return f"{_char(ch)}, an invisible control or format character; delete it"
    if ch.isdigit() and not ch.isascii():
        # The script, not the digit: ID and phone numbers are personal data.
        script = unicodedata.name(ch, "DIGIT").rsplit(" ", 1)[0]
        return f"a {script} (not an ASCII digit); type the digits 0-9"
    if (plain := unicodedata.normalize("NFKC", ch)) != ch:
        return f"{_char(ch)}, a full-width or compatibility form of {plain!r}; type it as ASCII"
    return None


def _plain_code(value: Any) -> Any:
    # A code is a key: a look-alike digit or an invisible character makes another key
    # that matches nothing (and pydantic's \d takes any script's digits).
    if isinstance(value, str):
        for i, ch in enumerate(value.strip(), start=1):
            if (why := _code_char_problem(ch)) is not None:
                raise ValueError(f"character {i} is {why}")
    return value


def _text(*, lines: bool) -> Callable[[Any], Any]:
    """A validator for names and free text: NFC, invisible format characters removed.

    Zero-width spaces, byte-order marks and bidi controls come in with copied text
    and are never meant (a bidi override shows a name reversed): they are removed.
    A control character (NUL, ESC …) means a broken file: the value is refused.
    """
    allowed = "\n\r\t" if lines else ""

    def clean(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = unicodedata.normalize("NFC", value)
        for i, ch in enumerate(value, start=1):
            if unicodedata.category(ch) == "Cc" and ch not in allowed:
                raise ValueError(f"character {i} is {_char(ch)}: a control character; delete it")
        return "".join(ch for ch in value if unicodedata.category(ch) != "Cf")

    return clean


#: Names and short text (one line).
Text = Annotated[
    str, BeforeValidator(_text(lines=False)), StringConstraints(min_length=1, max_length=200)
]
#: Free text that may run over several lines.
LongText = Annotated[str, BeforeValidator(_text(lines=True))]
Code = Annotated[
    str,
    BeforeValidator(_plain_code),
    StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$"),
]
TownCode = Annotated[
    str,
    BeforeValidator(_to_str),
    BeforeValidator(_plain_code),
    StringConstraints(pattern=r"^[0-9]{9}$"),
]
CountyCode = Annotated[
    str,
    BeforeValidator(_to_str),
    BeforeValidator(_plain_code),
    StringConstraints(pattern=r"^[0-9]{6}$"),
]
VillageCode = Annotated[
    str, BeforeValidator(_plain_code), StringConstraints(pattern=r"^[0-9]{12}$")
]
Lat = Annotated[float, Field(ge=3.0, le=54.0)]  # China spans about 4°N–53.6°N
Lon = Annotated[float, Field(ge=73.0, le=136.0)]  # and 73.5°E–135°E
Phone = Annotated[
    str,
    BeforeValidator(_plain_code),
    StringConstraints(pattern=r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"),
]  # mobile or landline
IdNumber = Annotated[
    str,
    BeforeValidator(_plain_code),
    StringConstraints(to_upper=True, pattern=r"^[0-9]{17}[0-9X]$"),
]
Flag = Annotated[bool, BeforeValidator(_flag)]


class _Row(BaseModel):
    """A row of a ledger file: blanks are missing values, unknown columns are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()
            }
        return data


class TownFile(_Row):
    """``town.yaml``: the town itself."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    code: TownCode
    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")]
    name: Text
    county_code: CountyCode
    county: Text
    office: Text
    duty_phone: Phone
    lat: Lat
    lon: Lon
    # The 救护单位 the cards name (the town's 卫生院) and its phone; optional.
    medical_unit: Text | None = None
    medical_unit_phone: Phone | None = None


class VillageRow(_Row):
    """``villages.csv``: administrative villages (extra informational columns are ignored)."""

    code: VillageCode
    name: Text
    lat: Lat
    lon: Lon
    town_code: TownCode | None = None


class TeamRow(_Row):
    """``teams.csv``: village assistance teams (驻村工作队)."""

    code: Code
    village_code: VillageCode
    name: Text
    sent_by: Text


class CadreRow(_Row):
    """``cadres.csv``: everyone with a duty; town leaders have no village."""

    code: Code
    village_code: VillageCode | None
    team_code: Code | None
    name: Text
    role: CadreRole
    title: Text
    phone: Phone


class GridRow(_Row):
    """``grids.csv``: grids (网格) and their responsible grid member."""

    code: Code
    village_code: VillageCode
    name: Text
    responsible_cadre_code: Code | None


class HouseholdRow(_Row):
    """``households.csv``: the household ledger (户)."""

    code: Code
    village_code: VillageCode
    grid_code: Code | None
    group_name: Text
    head_name: Text
    head_id_number: IdNumber | None
    phone: Phone | None
    members: Annotated[int, Field(ge=1, le=30)]
    address: Text
    lat: Lat
    lon: Lon
    house_type: Text
    safety_rating: SafetyRating
    five_guarantee: Flag
    left_behind_children: Flag
    hardship: Flag
    elderly_alone: Flag
    mobility_impaired: Flag
    responsible_cadre_code: Code | None
    # 避险明白卡 handed out before the flood season (1, the default) or still missing (0).
    card_issued: Annotated[bool, BeforeValidator(lambda v: True if v is None else _flag(v))] = True


class HazardPointRow(_Row):
    """``hazard_points.csv``: hazard points, risky road segments, rivers, unsafe houses."""

    code: Code
    village_code: VillageCode
    name: Text
    kind: HazardKind
    risk: RiskLevel
    lat: Lat
    lon: Lon
    description: Annotated[LongText, BeforeValidator(_blank), StringConstraints(max_length=2000)]
    monitor_cadre_code: Code | None
    warning_signal: Text
    evacuation_route: Annotated[LongText, StringConstraints(min_length=1, max_length=500)]
    road_code: Code | None


class HazardThreatRow(_Row):
    """``hazard_threats.csv``: which households a hazard point threatens, in which zone."""

    hazard_code: Code
    household_code: Code
    zone: Zone


class RoadRow(_Row):
    """``roads.csv``: road segments that can be blocked."""

    code: Code
    village_code: VillageCode
    road_name: Text
    name: Text
    road_class: Text
    lat: Lat
    lon: Lon


class ShelterRow(_Row):
    """``shelters.csv``: places of refuge and their capacity in people."""

    code: Code
    village_code: VillageCode
    name: Text
    kind: Text
    capacity: Annotated[int, Field(ge=0, le=100_000)]
    lat: Lat
    lon: Lon
    manager_cadre_code: Code | None


class MachineRow(_Row):
    """``machinery.csv``: machines for clearing roads and their operators."""

    code: Code
    kind: Text
    name: Text
    operator_name: Text
    operator_phone: Phone
    lat: Lat
    lon: Lon


@dataclass(frozen=True)
class LedgerFile:
    """One file of a town directory: its row model, table and required columns."""

    name: str
    row: type[_Row]
    table: type[SQLModel]
    required: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.name.removesuffix(".csv")


def _ledger(name: str, row: type[_Row], table: type[SQLModel]) -> LedgerFile:
    optional = {"town_code"} if row is VillageRow else set()
    if row is HouseholdRow:
        optional = {"card_issued"}  # older ledgers: every card counts as handed out
    return LedgerFile(name, row, table, tuple(f for f in row.model_fields if f not in optional))


#: The ledger files, in the order they are loaded (each refers only to earlier ones).
FILES: tuple[LedgerFile, ...] = (
    _ledger("villages.csv", VillageRow, Village),
    _ledger("teams.csv", TeamRow, AssistanceTeam),
    _ledger("cadres.csv", CadreRow, Cadre),
    _ledger("grids.csv", GridRow, Grid),
    _ledger("roads.csv", RoadRow, RoadSegment),
    _ledger("households.csv", HouseholdRow, Household),
    _ledger("hazard_points.csv", HazardPointRow, HazardPoint),
    _ledger("hazard_threats.csv", HazardThreatRow, HazardThreat),
    _ledger("shelters.csv", ShelterRow, Shelter),
    _ledger("machinery.csv", MachineRow, Machine),
)
_BY_NAME = {f.name: f for f in FILES}
#: Tables that carry the town code although their file does not.
_WITH_TOWN_CODE = frozenset({Cadre, RoadSegment, Shelter, Machine})


# --- the report ---------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What a load did: rows loaded per file (``town`` included) and the rows refused."""

    town_code: str
    town_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise ``RegistryError`` listing every refused row, if there is any."""
        if self.problems:
            raise RegistryError(self.problems)

    def summary(self) -> str:
        loaded = ", ".join(f"{name} {n}" for name, n in self.counts.items())
        refused = f"; {len(self.problems)} problem(s)" if self.problems else ""
        return f"town {self.town_code} from {self.town_dir}: {loaded}{refused}"


# --- reading files ------------------------------------------------------------------------


def read_town_file(path: Path) -> TownFile:
    """Read and validate ``town.yaml``; raise ``ConfigError`` naming the file and key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file; a town directory needs {TOWN_FILE}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the town file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of town fields, got {type(data).__name__}")
    try:
        return TownFile.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(f"{_column(e) or '?'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid town file: {reasons}") from exc


def _read_csv(
    path: Path, ledger: LedgerFile
) -> tuple[list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    """Return (line, raw row) pairs and the header problems (missing required columns)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise ConfigError(f"{path}: the file is empty; it needs at least a header row")
            header = [h.strip() for h in header]
            missing = [c for c in ledger.required if c not in header]
            problems = [
                RowProblem(path, 1, c, "required column missing from the header") for c in missing
            ]
            problems += _repeated_columns(path, header)
            rows = []
            for line, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue  # a blank line is not a row
                raw: dict[str, Any] = dict(zip(header, values, strict=False))
                if len(values) != len(header):
                    raw[_SHAPE] = (len(values), len(header))
                rows.append((line, raw))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no such file; a town directory needs {ledger.name} "
            f"(columns: {', '.join(ledger.required)}; a header row alone is fine)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a readable CSV file ({exc})") from exc
    return rows, problems


def _repeated_columns(path: Path, header: list[str]) -> list[RowProblem]:
    """A column named twice: a row would keep only the last of its values, so refuse the file."""
    repeated = [name for name, n in Counter(header).items() if n > 1 and name]
    return [
        RowProblem(
            path,
            1,
            name,
            "the header names this column twice (columns "
            + " and ".join(str(i) for i, h in enumerate(header, start=1) if h == name)
            + "); keep one",
        )
        for name in repeated
    ]


_SHAPE = "\x00fields"  # marks a row whose number of fields differs from the header's


def _column(error: Any) -> str | None:
    loc = error.get("loc") or ()
    return str(loc[0]) if loc else None


def _reason(error: Any) -> str:
    column = _column(error)
    value = error.get("input")
    if value is None and error["type"] in ("missing", "string_type", "int_type", "float_type"):
        return "a value is required"
    if error["type"] == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{_echo(column, value)} is not one of {expected}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"{_echo(column, value)}: {msg}"


def _echo(column: str | None, value: Any) -> str:
    if column in PERSONAL_COLUMNS:
        return "the value"  # personal data stays out of messages and logs
    text = str(value)
    return repr(text if len(text) <= ECHO_MAX else text[:ECHO_MAX] + "…")


# --- loading ------------------------------------------------------------------------------


class _Loader:
    """Validate the rows of one town directory against each other, in memory."""

    def __init__(self, town_dir: Path, town: TownFile) -> None:
        self.dir = town_dir
        self.town = town
        self.problems: list[RowProblem] = []
        #: file name → code → the validated row (good rows only)
        self.good: dict[str, dict[str, dict[str, Any]]] = {f.name: {} for f in FILES}
        #: file name → code → the line of the refused row
        self.refused: dict[str, dict[str, int]] = {f.name: {} for f in FILES}
        #: file name → code → the line of its (first) row
        self.lines: dict[str, dict[str, int]] = {f.name: {} for f in FILES}

    def problem(self, file: str, line: int, column: str | None, reason: str) -> None:
        self.problems.append(RowProblem(self.dir / file, line, column, reason))

    def rows(
        self,
        ledger: LedgerFile,
        raw_rows: list[tuple[int, dict[str, Any]]],
        check: Callable[[int, dict[str, Any]], list[tuple[str | None, str]]],
        key: Callable[[dict[str, Any]], str] = lambda r: str(r.get("code") or "").strip(),
    ) -> None:
        """Validate each row, run ``check`` on it, and keep it or refuse it."""
        first_line = self.lines[ledger.name]
        key_column = "code" if "code" in ledger.required else None
        good = self.good[ledger.name]
        refused = self.refused[ledger.name]
        for line, raw in raw_rows:
            code = key(raw)
            found: list[tuple[str | None, str]] = []
            if _SHAPE in raw:
                got, want = raw.pop(_SHAPE)
                found.append((None, f"{got} fields where the header has {want}"))
            if code and code in first_line:
                found.append((key_column, f"duplicate {code!r}: first on line {first_line[code]}"))
            elif code:
                first_line[code] = line
            if not found:
                try:
                    row = ledger.row.model_validate(raw).model_dump(mode="json")
                except ValidationError as exc:
                    found.extend((_column(e), _reason(e)) for e in exc.errors())
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
            line = self.refused[file][value]
            return (column, f"{value!r} was refused ({file}:{line}), so this row is refused too")
        return (column, f"{value!r} is not in {file}")

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
        return _some(
            self.ref(row, "village_code", "villages.csv"),
            self.ref(row, "manager_cadre_code", "cadres.csv", required=False),
        )

    def check_machine(self, line: int, row: dict[str, Any]) -> list[tuple[str | None, str]]:
        return []


def _some(*found: tuple[str | None, str] | None) -> list[tuple[str | None, str]]:
    return [f for f in found if f is not None]


def _threat_key(raw: dict[str, Any]) -> str:
    return f"{str(raw.get('hazard_code') or '').strip()}|{str(raw.get('household_code') or '').strip()}"


def load_town_dir(session: Session, town_dir: Path) -> LoadReport:
    """Load a town directory into the registry; refuse (and report) bad rows, upsert the rest.

    Raises ``ConfigError`` when ``town.yaml`` or a ledger file is missing or unreadable,
    and ``RegistryError`` when a file lacks a required column; nothing is written then.
    Otherwise returns a ``LoadReport``: call ``raise_for_problems()`` to insist on a
    clean ledger. The caller's session commits.
    """
    town_dir = Path(town_dir)
    town = read_town_file(town_dir / TOWN_FILE)
    raw: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    header_problems: list[RowProblem] = []
    for ledger in FILES:
        raw[ledger.name], problems = _read_csv(town_dir / ledger.name, ledger)
        header_problems += problems
    if header_problems:
        raise RegistryError(header_problems)
    _check_town_key(session, town, town_dir)

    loader = _Loader(town_dir, town)
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
            loader.rows(ledger, raw[ledger.name], checks[ledger.name], key=_threat_key)
        else:
            loader.rows(ledger, raw[ledger.name], checks[ledger.name])
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


def _table_rows(
    ledger: LedgerFile, rows: Iterable[dict[str, Any]], town_code: str
) -> Iterator[dict[str, Any]]:
    columns = set(ledger.table.model_fields)
    add_town = ledger.table in _WITH_TOWN_CODE or ledger.table is Village
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


# --- towns --------------------------------------------------------------------------------


def find_town(session: Session, town: str) -> Town:
    """Return the town with this key, 9-digit code or Chinese name; ``UnknownTown`` otherwise."""
    found = session.exec(
        select(Town).where(
            or_(Town.key == town, Town.code == town, Town.name == town)  # type: ignore[arg-type]
        )
    ).all()
    if found:
        # A key or code is exact; a name could in principle repeat across counties.
        return next((t for t in found if town in (t.key, t.code)), found[0])
    known = session.exec(select(Town.key).order_by(Town.key)).all()
    raise UnknownTown(town, list(known))


def town_dirs(towns_dir: Path | None = None) -> list[Path]:
    """Return the town directories (those with a town.yaml) under ``config/towns``."""
    root = towns_dir or get_settings().towns_dir
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/{TOWN_FILE}"))


def find_town_dir(town: str, towns_dir: Path | None = None) -> Path:
    """Return the directory of the town with this key, code or name; ``UnknownTown`` otherwise."""
    dirs = town_dirs(towns_dir)
    for d in dirs:
        if d.name == town:
            return d
    for d in dirs:
        try:
            meta = yaml.safe_load((d / TOWN_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # an unreadable town.yaml is reported when that town is loaded
        if isinstance(meta, dict) and town in (str(meta.get("code")), meta.get("name")):
            return d
    raise UnknownTown(town, [d.name for d in dirs])


def _town_metas(towns_dir: Path | None = None) -> list[tuple[str, str | None, str | None]]:
    """(key, name, code) of each configured town; None where town.yaml does not say."""
    out = []
    for d in town_dirs(towns_dir):
        try:
            meta = yaml.safe_load((d / TOWN_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            meta = None
        meta = meta if isinstance(meta, dict) else {}
        name, code = meta.get("name"), meta.get("code")
        out.append((d.name, str(name) if name else None, str(code) if code else None))
    return out


def town_choices(towns_dir: Path | None = None) -> list[str]:
    """The configured towns' names, then keys, then codes: the control room's town picker.

    Names come first so the form shows 鸡峰镇; keys and codes stay valid for the
    command line and for runs another flow starts by code.
    """
    metas = _town_metas(towns_dir)
    names = [n for _, n, _ in metas if n]
    keys = [k for k, _, _ in metas]
    codes = [c for _, _, c in metas if c]
    return list(dict.fromkeys([*names, *keys, *codes]))


def town_names(towns_dir: Path | None = None) -> dict[str, str]:
    """Key, code or name of a configured town → its name (for run names and titles)."""
    out: dict[str, str] = {}
    for key, name, code in _town_metas(towns_dir):
        if name:
            out.update({key: name, name: name} | ({code: name} if code else {}))
    return out


_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_registry(town: str = "jifeng") -> str:
    """Create the tables, load the town's registry unless it is there; return the town code.

    When the town is already registered this costs one query. A first load insists
    on a clean ledger: any refused row raises ``RegistryError`` and nothing is kept
    (load with ``load_town_dir`` to keep the good rows of a faulty ledger).
    """
    engine = db.get_engine()
    if engine not in _READY:
        db.init_db()
        _READY.add(engine)
    with db.session_scope() as session:
        code = session.exec(
            select(Town.code).where(or_(Town.key == town, Town.code == town))  # type: ignore[arg-type]
        ).first()
        if code is not None:
            return code
        report = load_town_dir(session, find_town_dir(town))
        report.raise_for_problems()
        return report.town_code
