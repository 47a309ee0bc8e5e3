"""Reading a town directory's files: ``town.yaml`` and the CSV ledgers, and the load report.

A problem names the file, the line and the column, and never echoes personal data.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
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


def read_csv(
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
                    raw[SHAPE_MARK] = (len(values), len(header))
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


SHAPE_MARK = "\x00fields"  # marks a row whose number of fields differs from the header's


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
