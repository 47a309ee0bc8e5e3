"""``sanqing respond``: a real flood response for a town, run now from the terminal."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.text import Text

from cli.common import (
    TownOption,
    check_folders,
    console,
    fail,
    local_prefect_api,
    prepare_prefect_env,
)
from sanqing.errors import SanqingError
from sanqing.models import StartBasis
from sanqing.plans import Level
from sanqing.settings import DEFAULT_LOCALE, get_settings
from sanqing.warning import WarningInfo


def respond(
    town: TownOption,
    level: Annotated[
        Level | None, typer.Option(help="Response level IV|III|II|I; default: from the warning.")
    ] = None,
    warning: Annotated[
        str | None,
        typer.Option(help="A CAP or QWeather document (file or URL) the response answers."),
    ] = None,
    locale: Annotated[str, typer.Option(help="Language of notices and reports.")] = DEFAULT_LOCALE,
    basis: Annotated[
        StartBasis | None,
        typer.Option(
            help="On what basis the level starts (启动依据): county_notice 县防指通知, "
            "town_assessment 镇防指会商研判, warning 预警自动; default: the warning if "
            "given, else town_assessment."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Run a real flood response for a town now, from the terminal (no control room).

    The same flow as the control room's flood-response deployment. Nobody can answer
    here, so the plan's unattended rules apply (its approval timeout rule at once;
    overdue roll calls go up when report-upward runs). With --warning the document is
    read as `sanqing warnings ingest` reads it and stored, so its update or cancel
    later acts on this response.
    """
    settings = get_settings()
    check_folders(settings)
    if level is None and warning is None:
        raise fail(SanqingError("give --level, or --warning with a document to take it from"))
    town_code, level, info, record = _town_and_warning(town, level, warning)
    prepare_prefect_env(settings)
    # Prefect reads its settings at import: only now, after prepare_prefect_env set them.
    from flows.flood_response import flood_response

    # Our own local Prefect server unless one is configured: it ends with this command.
    with (
        console.status("运行防汛应急响应 / running the flood response under Prefect…"),
        local_prefect_api(),
    ):
        figures = flood_response(
            town=town_code, level=level, warning=info, drill=False, locale=locale, basis=basis
        )
    if figures.get("activation_id") is None:  # cancelled or superseded while it started
        raise fail(SanqingError(f"no response opened: {figures.get('reason')}"))
    if record is not None:
        _mark_done(record, figures["activation_id"])
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, default=str))
        return
    _print_figures(figures)


def _town_and_warning(
    town: str, level: Level | None, source: str | None
) -> tuple[str, Level | None, WarningInfo | None, str | None]:
    """The town's code, the level (the plan's for the warning unless given), the warning
    read from ``source`` and the stored decision this run carries out, if any."""
    from sanqing.feeds.document import warning_for_town
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        info, record = (None, None) if source is None else warning_for_town(source, town_code)
        if info is not None and level is None:
            level = plan.level_for_warning(info.hazard, info.colour)
    except (SanqingError, ValueError) as exc:
        raise fail(exc) from exc
    return town_code, level, info, record


def _mark_done(record: str, activation_id: str) -> None:
    """The stored decision was carried out here, on this activation."""
    from sanqing.db import session_scope
    from sanqing.feeds.watch import mark_done

    with session_scope() as session:
        mark_done(session=session, record_id=record, activation_id=activation_id)


def _print_figures(f: dict[str, Any]) -> None:
    """The response's figures on the terminal, data printed as text (never as markup)."""
    state = "已结束" if f.get("status") == "stood_down" else "进行中"
    lines = [
        f"{'【演练】' if f['drill'] else ''}{f['town']} 防汛{f['level']}级应急响应（{state}）"
        f"  {f['activation_id']}",
        f"应转移 {f['households_to_relocate']} 户 {f['people_to_relocate']} 人；"
        f"已转移 {f['households_relocated']} 户 {f['people_relocated']} 人；"
        f"安置缺口 {f['shelter_shortfall_people']} 人",
        f"排查隐患点 {f['hazard_points_inspected']} 处，险情 {f['hazard_points_dangerous']} 处；"
        f"道路中断 {f['roads_blocked']} 处，已抢通 {f['roads_cleared']} 处",
        f"审批：{f.get('approval') or '—'}；报告 {len(f['reports'])} 份",
    ]
    for line in lines:
        console.print(Text(line))
