"""``sanqing init``: the database and a town's registry."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.common import check_folders, console, err, fail, plain
from sanqing.errors import SanqingError
from sanqing.settings import DEFAULT_TOWN, get_settings


def init(
    town: Annotated[
        str, typer.Option(help="Town key or code (config/towns/<key>).")
    ] = DEFAULT_TOWN,
) -> None:
    """Create the database and load the town's registry (safe to run again)."""
    from sanqing.db import init_db, session_scope
    from sanqing.registry import load_town_dir

    settings = get_settings()
    check_folders(settings)
    try:
        init_db()
        with session_scope() as session:
            report = load_town_dir(session, settings.towns_dir / town)
    except SanqingError as exc:
        raise fail(exc) from exc
    where = settings.effective_database_url.split("@")[-1]  # no user or password
    table = Table(title=plain(f"registry {town} → {where}"))
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in report.counts.items():
        table.add_row(name, str(count))
    console.print(table)
    if report.problems:
        err.print(plain(f"{len(report.problems)} row(s) refused:", "bold red"))
        for p in report.problems:  # a problem quotes the row: print it as written
            err.print(plain(f"  {p}"), soft_wrap=True)
        raise typer.Exit(code=1)
