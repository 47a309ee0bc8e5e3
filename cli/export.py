"""``sanqing export``: the county's ledger (台账) of a response as an Excel workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, fail, plain
from sanqing.errors import SanqingError


def export(
    out: Annotated[
        Path, typer.Option("--out", help="The workbook to write (.xlsx); its folder is created.")
    ],
    activation: Annotated[
        str | None,
        typer.Option(
            help="The response or drill (its id, see `sanqing status`); default: the latest."
        ),
    ] = None,
) -> None:
    """Write a response's ledger (台账) for the county: 概况, 转移台账, 安置点, 通知, 时间线, 报告.

    Heads of households are named, as a 转移台账 must; phone numbers are masked and
    notice bodies left out. Times are local.
    """
    from sanqing.db import init_db, session_scope
    from sanqing.export import build_ledger, latest_activation_id, save_ledger

    try:
        init_db()
        with session_scope() as session:
            act_id = activation or latest_activation_id(session)
            ledger = build_ledger(session=session, activation_id=act_id)
        save_ledger(ledger, out)
    except SanqingError as exc:
        raise fail(exc) from exc
    counts = "，".join(f"{sheet} {n} 行" for sheet, n in ledger.rows.items())
    # Not wrapped: the path and the id are copied from here.
    console.print(plain(f"已导出 {ledger.activation_id} 的台账：{out.resolve()}"), soft_wrap=True)
    console.print(plain(counts), soft_wrap=True)
