"""Reading a sanqing workbook back in tests: a sheet's table as dicts, as the county reads it."""

from __future__ import annotations

from typing import Any


def rows_under(ws: Any, header_row: int = 2) -> list[dict[str, Any]]:
    """The rows under ``header_row`` (row 1 is the sheet's title) as dicts, to the first blank row."""
    header = [c.value for c in ws[header_row]]
    rows = []
    for values in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if values[0] is None:
            break
        rows.append({k: v for k, v in zip(header, values, strict=True) if k is not None})
    return rows
