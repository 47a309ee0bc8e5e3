"""Tables into worksheets: a title line, a bold header, frozen panes, widths, cells kept as data.

A cell holds what a ledger, a feed or a field report wrote: a name can be
``=HYPERLINK(…)``, ``+1``, ``@SUM(…)`` or hold control characters. Every text is
written as text (``data_type`` ``s``, with Excel's quote prefix when it starts like
a formula), never as a formula; characters an XLSX file cannot hold are dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

#: What spreadsheets read as the start of a formula (and OWASP's tab and carriage return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Column widths in characters (a CJK character counts two): at least, at most.
MIN_WIDTH = 6
MAX_WIDTH = 48
#: How times are shown (local time, to the minute).
TIME_FORMAT = "yyyy-mm-dd hh:mm"
YES, NO = "是", "否"

Value = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Table:
    """A header and its rows."""

    header: Sequence[str]
    rows: list[Sequence[Value]] = field(default_factory=list)


def plain_text(text: str) -> str:
    """``text`` without the characters an XLSX file cannot hold (controls but tab and newline)."""
    return str(ILLEGAL_CHARACTERS_RE.sub("", text))


def _width(value: Any) -> int:
    if isinstance(value, datetime):
        return len(TIME_FORMAT)
    text = str(value) if value is not None else ""
    line = max(text.split("\n"), key=len) if text else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def put(ws: Any, row: int, column: int, value: Value, tz: ZoneInfo) -> Any:
    """Write one value: text as text, a time in local time, a yes/no in words."""
    if isinstance(value, bool):
        value = YES if value else NO
    if isinstance(value, datetime):
        # XLSX has no time zones: the local time, as the title line says.
        cell = ws.cell(row=row, column=column, value=value.astimezone(tz).replace(tzinfo=None))
        cell.number_format = TIME_FORMAT
        return cell
    if isinstance(value, str):
        text = plain_text(value)
        cell = ws.cell(row=row, column=column, value=text)
        cell.data_type = "s"  # openpyxl would store "=…" as a formula
        if text.startswith(FORMULA_STARTS):
            cell.quotePrefix = True  # as Excel keeps a typed '=…: editing it keeps it text
        return cell
    return ws.cell(row=row, column=column, value=value)


def write_tables(
    ws: Any, *, title: str, tables: Sequence[Table], tz: ZoneInfo, freeze: bool = True
) -> None:
    """The title in row 1, then each table (header and rows) with a blank row between.

    With ``freeze`` the panes freeze under the last table's header (the list one
    scrolls through), which gets an auto-filter; columns are as wide as their
    longest value.
    """
    put(ws, 1, 1, title, tz).font = Font(bold=True, size=13)
    widths: dict[int, int] = {}
    row = 2
    for n, table in enumerate(tables):
        if n:
            row += 1
        header_row = row
        for col, name in enumerate(table.header, start=1):
            cell = put(ws, row, col, name, tz)
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", vertical="center")
            widths[col] = max(widths.get(col, 0), _width(name))
        for values in table.rows:
            row += 1
            for col, value in enumerate(values, start=1):
                put(ws, row, col, value, tz)
                widths[col] = max(widths.get(col, 0), _width(value))
        row += 1
    if tables and freeze:
        last = tables[-1]
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        end = get_column_letter(max(len(last.header), 1))
        ws.auto_filter.ref = f"A{header_row}:{end}{header_row + max(len(last.rows), 1)}"
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(
            MAX_WIDTH, max(MIN_WIDTH, width + 2)
        )
