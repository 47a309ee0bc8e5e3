"""The ledger files of a town directory and the pydantic model of each row.

Field types refuse what looks right and is not: a code, ID or phone number with a
full-width or look-alike character, a name with a line break, a flag that is neither
yes nor no. ``FILES`` lists the ledgers in the order they load.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlmodel import SQLModel

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
    Village,
    Zone,
)

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
    # rooms kept apart for people under home monitoring; older ledgers have none
    isolation_places: Annotated[
        int, BeforeValidator(lambda v: 0 if v is None or v == "" else v), Field(ge=0, le=10_000)
    ] = 0


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
    if row is ShelterRow:
        optional = {"isolation_places"}  # older ledgers: no room kept apart
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
WITH_TOWN_CODE = frozenset({Cadre, RoadSegment, Shelter, Machine})
