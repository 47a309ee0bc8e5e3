"""``sanqing respond``: a real flood response for a town, run now from the terminal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from sanqing.feeds.model import FeedWarning
    from sanqing.feeds.watch import Decided


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
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        info, record = (None, None) if source is None else _read_warning(source, town_code)
        if info is not None and level is None:
            level = plan.level_for_warning(info.hazard, info.colour)
    except (SanqingError, ValueError) as exc:
        raise fail(exc) from exc
    return town_code, level, info, record


def _read_warning(source: str, town_code: str) -> tuple[WarningInfo, str | None]:
    """The flood warning of a document, stored as the watch stores it, for this town.

    Returns the warning and the id of its stored decision when that decision concerns
    this town only (it is then carried out here); a decision that spans other towns
    stays pending for the watch.
    """
    from sanqing.feeds.chains import record_id

    d = _flood_warning_in(source)
    assert d.warning is not None and d.warning.colour is not None
    w = d.warning
    _check_in_force(source, w)
    villages = _villages_of_town(source, d, town_code)
    info = WarningInfo(
        identifier=w.identifier,
        hazard=w.hazard or "rainstorm",
        colour=w.colour,
        headline=w.headline or w.event,
        description=w.description,
        sender=w.sender,
        sent=w.sent,
        status=w.status,
        area_desc=w.area_desc,
        village_codes=villages,
    )
    only_here = set(d.decision.town_codes) <= {town_code}
    return info, record_id(w.sender, w.identifier) if only_here else None


def _flood_warning_in(source: str) -> Decided:
    """Read and store the document as the watch does; its first flood warning with a
    colour that starts or changes a response (not one that ends warnings)."""
    from sanqing.db import session_scope
    from sanqing.feeds.chains import ends_warnings
    from sanqing.feeds.watch import ingest_results, poll
    from sanqing.plans import load_plan

    result = poll(url=source, area_codes=[], area_desc="", conditional=False)
    plan = load_plan()
    with session_scope() as session:
        decided = ingest_results(session=session, results=[result], plan=plan)
    problems = [d.decision.reason for d in decided if d.warning is None]
    usable = [
        d
        for d in decided
        if d.warning is not None
        and not ends_warnings(d.warning)
        and d.warning.hazard in plan.warning_levels
        and d.warning.colour is not None
    ]
    if not usable:
        why = "; ".join(problems) or "no flood warning with a colour in it"
        raise SanqingError(f"{source}: nothing to respond to ({why})")
    return usable[0]


def _check_in_force(source: str, warning: FeedWarning) -> None:
    """Refuse an exercise, and a warning cancelled, ended, superseded or withdrawn."""
    from sanqing.db import session_scope
    from sanqing.feeds.chains import is_drill
    from sanqing.feeds.liveness import warning_gone

    if is_drill(warning):
        raise SanqingError(
            f"{source}: warning {warning.identifier} is an exercise ({warning.status}): "
            "respond runs real responses only; `sanqing warnings ingest FILE --respond` "
            "runs it as a drill"
        )
    with session_scope() as session:
        gone = warning_gone(session, sender=warning.sender, identifier=warning.identifier)
    if gone is not None:  # cancelled, all-clear, superseded or withdrawn: never restarted here
        raise SanqingError(f"{source}: warning {warning.identifier} is no longer in force: {gone}")


def _villages_of_town(source: str, d: Decided, town_code: str) -> list[str]:
    """The villages of this town the decision acts on; a refusal when there are none."""
    assert d.warning is not None
    villages = [c for c in d.decision.village_codes if c.startswith(town_code)]
    if not villages and not d.decision.village_codes:  # expired, draft, no area …
        raise SanqingError(
            f"{source}: warning {d.warning.identifier} is not acted on: {d.decision.reason}"
        )
    if not villages:
        raise SanqingError(
            f"{source}: warning {d.warning.identifier} covers no village of town {town_code} "
            f"(area: {d.warning.area_desc or '—'})"
        )
    return villages


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
