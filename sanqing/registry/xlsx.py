"""Reading a ledger kept as an Excel workbook (``households.xlsx``) into the rows a CSV gives.

One worksheet is read: the one named as the ledger (``households``), else the
workbook's first visible one; the others (notes, hidden code lists) are left alone. Its header is its first
non-empty row, and rows keep the numbers Excel shows. A cell becomes the text its CSV
export would hold: 13800138000 stays ``13800138000`` (no ``.0``), a date is
``2024-05-01``, TRUE and FALSE are ``1`` and ``0``, an empty cell is blank; so the
CSV ledger's row validation applies unchanged.

Only values are read: a formula gives the value Excel saved with it, nothing is
evaluated here, and a text cell such as ``=cmd|…`` stays that text. A formula saved
without its value (a file a program wrote and nobody opened in Excel) reads as blank:
openpyxl cannot tell it from a formula whose value is "". What looks right
and is not refuses the row: an Excel error (``#N/A``), a number of more than 15
digits (Excel keeps 15, so an ID number typed as a number has lost its last digits),
a value in a column without a header (a row shifted by a column). A file that is not
a workbook is one ``ConfigError``, not a traceback.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from sanqing.errors import ConfigError
from sanqing.registry.files import CELL_MARK, LedgerRead
from sanqing.registry.rows import LedgerFile

#: Significant digits Excel keeps of a number; a longer one has lost its tail.
EXCEL_DIGITS = 15
_EXCEL_LIMIT: int = 10**EXCEL_DIGITS  # the first number of 16 digits
#: What a file that is not a readable workbook raises inside openpyxl (zip, XML, parts).
_BROKEN: tuple[type[Exception], ...] = (
    BadZipFile,
    InvalidFileException,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    SyntaxError,  # xml.etree's ParseError
    EOFError,
    zlib.error,
    OSError,
)
_ERROR_HINT = "a formula that failed; correct it or type the value"
_TOO_LONG = (
    f"a number of more than {EXCEL_DIGITS} digits: Excel keeps only {EXCEL_DIGITS}, so its "
    "last digits are lost; format the column as text (文本) and type the value again"
)


def read_xlsx(path: Path, ledger: LedgerFile) -> LedgerRead:
    """Read a workbook ledger: its (row, raw row) pairs and its header problems."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except _BROKEN as exc:
        raise ConfigError(_unreadable(path, exc)) from exc
    try:
        sheets = book.worksheets
        if not sheets:
            raise ConfigError(f"{path}: the workbook has no worksheet")
        named = [s for s in sheets if s.title.strip() == ledger.key]
        visible = [s for s in sheets if s.sheet_state == "visible"]
        return _read_sheet(path, (named or visible or sheets)[0], ledger)
    finally:
        book.close()


def _unreadable(path: Path, exc: Exception) -> str:
    return (
        f"{path}: not a readable Excel workbook ({type(exc).__name__}); "
        "open it in Excel or WPS and save it again as .xlsx (Excel 工作簿)"
    )


def _parsed(path: Path, sheet: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(Excel row, cells) of each row; a sheet that breaks while read is a ``ConfigError``.

    Read-only mode parses the sheet as it is read: only openpyxl's own steps are
    guarded, so a fault in this module is not taken for a broken file.
    """
    sheet.reset_dimensions()  # some writers record wrong dimensions: read every row
    rows = sheet.iter_rows()
    n = 0
    while True:
        try:
            cells = next(rows)
        except StopIteration:
            return
        except _BROKEN as exc:
            raise ConfigError(_unreadable(path, exc)) from exc
        n += 1
        yield n, cells


def _read_sheet(path: Path, sheet: Any, ledger: LedgerFile) -> LedgerRead:
    rows = _parsed(path, sheet)
    found = next(((n, cells) for n, cells in rows if any(_filled(c) for c in cells)), None)
    if found is None:
        raise ConfigError(
            f"{path} 工作表「{sheet.title}」: the sheet is empty; it needs at least a header row"
        )
    header_row, cells = found
    header = [_text(c.value).strip() for c in cells]
    read = LedgerRead(path, sheet=sheet.title)
    for i, name in enumerate(header, start=1):
        if name:
            read.letters.setdefault(name, get_column_letter(i))
    read.check_header(header_row, header, ledger)
    for n, cells in rows:
        raw = _raw_row(header, cells)
        if raw is not None:
            read.rows.append((n, raw))
    return read


def _raw_row(header: list[str], cells: tuple[Any, ...]) -> dict[str, Any] | None:
    """The row as the CSV path gives it (name → text); None for a blank row."""
    raw: dict[str, Any] = dict.fromkeys((h for h in header if h), "")
    found: list[tuple[str | None, str]] = []
    for i, cell in enumerate(cells):
        name = header[i] if i < len(header) else ""
        if not _filled(cell):
            continue
        if not name:
            letter = get_column_letter(i + 1)
            found.append((None, f"a value in column {letter}, which has no header; move it"))
        elif cell.data_type == "e" and cell.value in ERROR_CODES:
            found.append((name, f"the cell shows the Excel error {cell.value}: {_ERROR_HINT}"))
        elif _too_long(cell.value):
            found.append((name, _TOO_LONG))
        else:
            raw[name] = _text(cell.value)
    if found:
        raw[CELL_MARK] = found
    elif not any(v.strip() for v in raw.values()):
        return None  # a blank row is not a row
    return raw


def _filled(cell: Any) -> bool:
    value = cell.value
    return value is not None and not (isinstance(value, str) and not value.strip())


def _too_long(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return bool(abs(value) >= _EXCEL_LIMIT)


def _text(value: Any) -> str:
    """A cell's value as the CSV export holds it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone or a count stored as a number: no ".0"
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()  # Excel keeps a date as a midnight
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)
