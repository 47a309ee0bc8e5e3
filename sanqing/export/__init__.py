"""The county's ledger (台账) of one activation as an Excel workbook (``sanqing export``).

Six sheets: 概况 (the response and its figures, as the reports count them, and per
village), 转移台账 (one row per household ordered to move), 安置点, 通知 (counts per
channel and status, then one row per notice), 时间线 and 报告.

Personal data: a 转移台账 names each household's head (the county checks the list
household by household), but no phone or ID number is written: a notice's address
is masked (``mask_phone``), and free text (subjects, errors, timeline details) goes
through ``mask_text``. Notice and report bodies are left out.
"""

from __future__ import annotations

from sanqing.export.workbook import (
    Ledger,
    build_ledger,
    latest_activation_id,
    save_ledger,
)

__all__ = ["Ledger", "build_ledger", "latest_activation_id", "save_ledger"]
