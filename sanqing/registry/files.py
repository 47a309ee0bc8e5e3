"""Reading a town directory's files: ``town.yaml`` and the CSV ledgers, and the load report.

A problem names the file, the line and the column, and never echoes personal data.
A ledger kept as a workbook is read by ``xlsx`` into the same ``LedgerRead``.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from openpyxl.utils import get_column_letter
from pydantic import (
    ValidationError,
)

from sanqing.errors import ConfigError, RegistryError, RowProblem
from sanqing.registry.rows import ECHO_MAX, PERSONAL_COLUMNS, TOWN_FILE, LedgerFile, TownFile

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
        reasons = "; ".join(f"{column_of(e) or '?'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: invalid town file: {reasons}") from exc


@dataclass
class LedgerRead:
    """One ledger as read from its file: the rows and the problems of its header.

    ``sheet`` and ``letters`` (column name → letter) are a workbook's, so that a
    problem names the worksheet and the column as Excel shows them; a CSV has neither.
    """

    path: Path
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    sheet: str | None = None
    letters: dict[str, str] = field(default_factory=dict)

    def problem(self, row: int, column: str | None, reason: str) -> RowProblem:
        letter = self.letters.get(column) if column else None
        return RowProblem(self.path, row, column, reason, sheet=self.sheet, letter=letter)

    def place(self, row: int) -> str:
        """A row as a reason names it: ``cadres.csv:12`` or ``cadres.xlsx 工作表「…」第 12 行``."""
        return self.problem(row, None, "").place

    def check_header(self, row: int, header: list[str], ledger: LedgerFile) -> None:
        """Add a problem for each required column missing and each column named twice."""
        missing = [c for c in ledger.required if c not in header]
        # a workbook's title rows above the header would be taken for it: say which row it is
        where = "" if self.sheet is None else f" (row {row}, the sheet's first non-empty row)"
        self.problems += [
            self.problem(row, c, f"required column missing from the header{where}") for c in missing
        ]
        self.problems += _repeated_columns(self, row, header)


def read_csv(path: Path, ledger: LedgerFile) -> LedgerRead:
    """Read a CSV ledger: its (line, raw row) pairs and its header problems."""
    read = LedgerRead(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise ConfigError(f"{path}: the file is empty; it needs at least a header row")
            header = [h.strip() for h in header]
            read.check_header(1, header, ledger)
            for line, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue  # a blank line is not a row
                raw: dict[str, Any] = dict(zip(header, values, strict=False))
                if len(values) != len(header):
                    raw[SHAPE_MARK] = (len(values), len(header))
                read.rows.append((line, raw))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no such file; a town directory needs {ledger.name} or {ledger.key}.xlsx "
            f"(columns: {', '.join(ledger.required)}; a header row alone is fine)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a readable CSV file ({exc})") from exc
    return read


def _repeated_columns(read: LedgerRead, row: int, header: list[str]) -> list[RowProblem]:
    """A column named twice: a row would keep only the last of its values, so refuse the file."""
    repeated = [name for name, n in Counter(header).items() if n > 1 and name]
    kind = "columns" if read.sheet is None else "Excel columns"
    return [
        read.problem(
            row,
            name,
            f"the header names this column twice ({kind} "
            + " and ".join(_column_label(read, i) for i, h in enumerate(header) if h == name)
            + "); keep one",
        )
        for name in repeated
    ]


def _column_label(read: LedgerRead, index: int) -> str:
    return str(index + 1) if read.sheet is None else get_column_letter(index + 1)


SHAPE_MARK = "\x00fields"  # marks a row whose number of fields differs from the header's
CELL_MARK = "\x00cells"  # (column, reason) of the cells a workbook row was refused for


def column_of(error: Any) -> str | None:
    loc = error.get("loc") or ()
    return str(loc[0]) if loc else None


def reason_of(error: Any) -> str:
    column = column_of(error)
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
