"""``sanqing import registrations``: the villages' 摸排 registers into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import TownOption, check_folders, console, err, fail, plain
from sanqing.errors import SanqingError
from sanqing.settings import get_settings

import_app = typer.Typer(help="Import the villages' registers.", no_args_is_help=True)


@import_app.command()
def registrations(
    file: Annotated[Path, typer.Argument(help="A register: .csv, or .xlsx (every sheet).")],
    town: TownOption,
) -> None:
    """Register returnees and outsiders (摸排) from a village's CSV or XLSX register.

    Good rows load (the same person again updates, never twice); each bad row is
    refused with one line FILE:SHEET:ROW:COLUMN: reason, and the command exits 1.
    """
    from sanqing.db import session_scope
    from sanqing.epidemic.plan import load_epidemic_plan
    from sanqing.epidemic.registrations import import_registrations, read_registrations
    from sanqing.models import utcnow
    from sanqing.registry import ensure_registry, find_town

    check_folders(get_settings())
    if not file.is_file():
        raise fail(SanqingError(f"{file}: no such file"))
    try:
        plan = load_epidemic_plan()
        ensure_registry(town)
        register = read_registrations(file)
        with session_scope() as session:
            report = import_registrations(
                session, town=find_town(session, town), register=register, plan=plan, now=utcnow()
            )
    except SanqingError as exc:
        raise fail(exc) from exc
    risks = "，".join(f"{k} {v}" for k, v in sorted(report.by_risk.items()))
    console.print(
        plain(f"登记 / registered: 新增 new {report.new}，更新 updated {report.updated}（{risks}）")
    )
    if report.problems:
        err.print(plain(f"{len(report.problems)} 行未导入 / row(s) refused:", "bold red"))
        for p in report.problems:
            err.print(plain(f"  {p}"), soft_wrap=True)
        raise typer.Exit(code=1)


def followup(
    village: Annotated[str, typer.Argument(help="The person's village, as registered.")],
    person: Annotated[str, typer.Argument(help="The person's name, as registered.")],
    answer: Annotated[
        str, typer.Argument(help="健康 / 有症状 / 联系不上 (healthy / symptoms / unreachable).")
    ],
    town: TownOption,
    note: Annotated[str, typer.Option(help="Temperature, symptoms, what happened.")] = "",
) -> None:
    """Record a follow-up of a person under home health monitoring (健康监测随访).

    It answers their earliest follow-up due; symptoms go to the 卫生院, no answer to
    the town leader for the village. Exits 1 when the answer could not be taken.
    """
    from sanqing.db import session_scope
    from sanqing.epidemic.answers import WORDS, FollowUpReport, record_for_town
    from sanqing.registry import ensure_registry
    from sanqing.settings import DEFAULT_LOCALE

    if answer not in WORDS:
        raise fail(SanqingError(f"answer must be 健康, 有症状 or 联系不上, not {answer!r}"))
    words = {v: k for k, v in WORDS.items() if not k.isascii()}
    row = FollowUpReport(village=village, person=person, answer=words[WORDS[answer]], note=note)
    try:
        ensure_registry(town)
        with session_scope() as session:
            r = record_for_town(session, town=town, rows=[row], locale=DEFAULT_LOCALE)
    except SanqingError as exc:
        raise fail(exc) from exc
    if r.refused:
        err.print(plain(r.refused[0]), soft_wrap=True)
        raise typer.Exit(code=1)
    said = "，已上报" if r.escalated else ""
    console.print(
        plain(f"已登记随访{said} / follow-up recorded{' and escalated' if r.escalated else ''}")
    )
