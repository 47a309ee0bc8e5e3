"""Commands for a response: start it, see where it stands, stand it down, patrol, 叫应."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.common import (
    check_folders,
    console,
    fail,
    local_prefect_api,
    plain,
    prepare_prefect_env,
)
from sanqing.errors import SanqingError
from sanqing.models import StartBasis
from sanqing.plans import Level
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN, get_settings
from sanqing.warning import WarningInfo


def patrol(
    name: Annotated[str, typer.Option(help="Who led the after-rain patrol (巡查负责人).")],
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    danger: Annotated[
        list[str] | None,
        typer.Option(help="A hazard point (name or code) still in danger; repeat for several."),
    ] = None,
    remarks: Annotated[str, typer.Option(help="What the patrol saw.")] = "",
    locale: Annotated[str, typer.Option(help="Language of the final report.")] = DEFAULT_LOCALE,
) -> None:
    """Record the after-rain patrol (雨后巡查) of the town's running response.

    All clear (no --danger): a stand-down waiting for it happens now, with the final
    report (终报). With --danger the response goes on and residents stay away.
    """
    from sanqing import response
    from sanqing.answers import PatrolAnswer
    from sanqing.db import session_scope
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        answer = PatrolAnswer(
            all_clear=not danger, name=name, dangers=danger or [], remarks=remarks
        )
        with session_scope() as session:
            act = response.open_activation(
                session, town_code=town_code, plan=plan.plan, drill=False
            )
            if act is None:
                raise SanqingError(f"{town}: no running response to patrol for")
            done = response.record_patrol(
                session, activation_id=act.id, plan=plan, answer=answer, locale=locale
            )
            act_id = act.id
    except (SanqingError, ValueError) as exc:
        raise fail(exc) from exc
    if done:
        console.print(plain(f"雨后巡查确认安全：{act_id} 应急响应已结束，终报已生成。"))
    elif danger:
        console.print(plain(f"雨后巡查仍有险情：{act_id} 应急响应继续，群众不得返回。"))
    else:
        console.print(plain(f"雨后巡查已记录：{act_id} 尚未申请结束响应，解除后即可结束。"))


def running(session: Any, town: str, town_code: str, *, drill: bool = False) -> Any:
    """The town's open flood response (or drill), or a one-line refusal."""
    from sanqing.response import open_activation

    act = open_activation(session, town_code=town_code, plan="flood", drill=drill)
    if act is None:
        raise SanqingError(f"{town}: no running {'drill' if drill else 'response'}")
    return act


def casualties(
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    dead: Annotated[int, typer.Option(help="People dead (死亡) in this report.")] = 0,
    missing: Annotated[int, typer.Option(help="People missing (失踪) in this report.")] = 0,
    injured: Annotated[int, typer.Option(help="People injured (受伤) in this report.")] = 0,
    village: Annotated[
        str | None, typer.Option(help="The village where it happened: name or code.")
    ] = None,
    note: Annotated[str, typer.Option(help="What happened, in a few words (no names).")] = "",
    by: Annotated[str, typer.Option(help="Who reported it (报告人).")] = "",
    drill: Annotated[bool, typer.Option(help="Record it for the town's drill.")] = False,
) -> None:
    """Record people dead, missing or injured (人员伤亡) in the town's running response.

    Each call adds to what was recorded before (the reports give the sums, and the
    next 续报 says what changed); the totals so far are printed.
    """
    from sqlmodel import select

    from sanqing.db import session_scope
    from sanqing.models import Village
    from sanqing.registry import ensure_registry
    from sanqing.reporting import casualty_totals, record_casualties

    try:
        town_code = ensure_registry(town)
        with session_scope() as session:
            act = running(session, town, town_code, drill=drill)
            village_code = None
            if village is not None:
                found = session.exec(
                    select(Village.code).where(
                        Village.town_code == town_code,
                        (Village.name == village) | (Village.code == village),
                    )
                ).first()
                if found is None:
                    raise SanqingError(f"{village}: not a village of {town}")
                village_code = found
            record_casualties(
                session,
                activation_id=act.id,
                dead=dead,
                missing=missing,
                injured=injured,
                note=note,
                village_code=village_code,
                reported_by=by,
            )
            totals = casualty_totals(session, act.id)
            act_id = act.id
    except SanqingError as exc:
        raise fail(exc) from exc
    console.print(
        plain(
            f"已记录人员伤亡：{act_id} 累计死亡{totals['dead']}人、失踪{totals['missing']}人、"
            f"受伤{totals['injured']}人。"
        )
    )


def ack(
    cadre: Annotated[str, typer.Argument(help="The cadre who answered: name or code.")],
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    note: Annotated[str, typer.Option(help="What they said.")] = "",
) -> None:
    """Record that a cadre acknowledged their tasks (叫应): resends and hand-ups stop."""
    from sanqing.db import session_scope
    from sanqing.delivery.acknowledge import acknowledge
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        with session_scope() as session:
            act = running(session, town, town_code)
            n = acknowledge(session, activation_id=act.id, cadre=cadre, note=note)
    except SanqingError as exc:
        raise fail(exc) from exc
    console.print(plain(f"已叫应：{cadre} 的 {n} 份任务记为已回复。"))


def respond(
    town: Annotated[str, typer.Option(help="Town key, code or name.")],
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
    from flows.flood_response import flood_response
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    settings = get_settings()
    check_folders(settings)
    if level is None and warning is None:
        raise fail(SanqingError("give --level, or --warning with a document to take it from"))
    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        info, record = (None, None) if warning is None else _read_warning(warning, town_code)
        if info is not None and level is None:
            level = plan.level_for_warning(info.hazard, info.colour)
    except (SanqingError, ValueError) as exc:
        raise fail(exc) from exc
    prepare_prefect_env(settings)
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
        from sanqing.db import session_scope
        from sanqing.feeds.watch import mark_done

        with session_scope() as session:
            mark_done(session=session, record_id=record, activation_id=figures["activation_id"])
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False, default=str))
        return
    _print_figures(figures)


def _read_warning(source: str, town_code: str) -> tuple[WarningInfo, str | None]:
    """The flood warning of a document, stored as the watch stores it, for this town.

    Returns the warning and the id of its stored decision when that decision concerns
    this town only (it is then carried out here); a decision that spans other towns
    stays pending for the watch.
    """
    from sanqing.db import session_scope
    from sanqing.feeds.chains import ends_warnings, is_drill, record_id
    from sanqing.feeds.liveness import warning_gone
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
    d = usable[0]
    assert d.warning is not None and d.warning.colour is not None
    if is_drill(d.warning):
        raise SanqingError(
            f"{source}: warning {d.warning.identifier} is an exercise ({d.warning.status}): "
            "respond runs real responses only; `sanqing warnings ingest FILE --respond` "
            "runs it as a drill"
        )
    with session_scope() as session:
        gone = warning_gone(session, sender=d.warning.sender, identifier=d.warning.identifier)
    if gone is not None:  # cancelled, all-clear, superseded or withdrawn: never restarted here
        raise SanqingError(
            f"{source}: warning {d.warning.identifier} is no longer in force: {gone}"
        )
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
    info = WarningInfo(
        identifier=d.warning.identifier,
        hazard=d.warning.hazard or "rainstorm",
        colour=d.warning.colour,
        headline=d.warning.headline or d.warning.event,
        description=d.warning.description,
        sender=d.warning.sender,
        sent=d.warning.sent,
        status=d.warning.status,
        area_desc=d.warning.area_desc,
        village_codes=villages,
    )
    only_here = set(d.decision.town_codes) <= {town_code}
    return info, record_id(d.warning.sender, d.warning.identifier) if only_here else None


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


def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per activation per line.")
    ] = False,
    days: Annotated[float, typer.Option(help="Ended responses of the last DAYS days too.")] = 7,
) -> None:
    """The open responses, and those that ended recently: level, state, warnings, shelters."""
    from datetime import timedelta

    from sanqing.db import init_db, session_scope
    from sanqing.status import activation_status

    init_db()
    with session_scope() as session:
        rows = activation_status(session=session, recent=timedelta(days=days))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        console.print("没有进行中或近期结束的应急响应 / no open or recent responses")
        return
    table = Table(title="应急响应 / responses")
    for name in (
        "响应 activation",
        "乡镇",
        "级别",
        "状态",
        "开始",
        "结束",
        "预警",
        "安置点 人/容量",
    ):
        table.add_column(name)
    for r in rows:
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    ("【演练】" if r["drill"] else "") + r["activation_id"],
                    r["town"],
                    r["level"],
                    "进行中" if r["state"] == "open" else "已结束",
                    r["started_at"][:16],
                    (r["ended_at"] or "—")[:16],
                    "、".join(r["warnings"]) or "人工启动",
                    "；".join(f"{s['name']} {s['people']}/{s['capacity']}" for s in r["shelters"]),
                )
            )
        )
    console.print(table)


def stand_down(
    reason: Annotated[str, typer.Option(help="Why the response ends (in the timeline and 终报).")],
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    drill: Annotated[bool, typer.Option(help="Stand down the town's drill instead.")] = False,
    locale: Annotated[str, typer.Option(help="Language of the final report.")] = DEFAULT_LOCALE,
) -> None:
    """Ask for the stand-down of the town's open response.

    Residents go home only when the after-rain patrol (雨后巡查) finds the hazard points
    safe: the response ends, with its final report (终报), when `sanqing patrol` (or the
    control room's after-rain-patrol form) records the all-clear. A drill ends at once.
    """
    from sanqing import response
    from sanqing.answers import SimulatedAnswers
    from sanqing.db import session_scope
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        plan = load_plan()
        with session_scope() as session:
            act = response.open_activation(
                session, town_code=town_code, plan=plan.plan, drill=drill
            )
            if act is None:
                kind = "drill" if drill else "response"
                raise SanqingError(f"{town}: no open {kind} to stand down")
            done = response.end_response(
                session,
                activation_id=act.id,
                plan=plan,
                reason=reason,
                locale=locale,
                simulated_patrol=SimulatedAnswers().patrol if drill else None,
            )
            act_id = act.id
    except SanqingError as exc:
        raise fail(exc) from exc
    if done:
        console.print(Text(f"{act_id} 应急响应已结束，终报已生成。"))
    else:
        console.print(
            Text(
                f"{act_id} 已申请结束响应：各隐患点雨后巡查确认安全后结束（终报）。"
                f"巡查后记录：sanqing patrol --town {town} --name 巡查负责人"
            )
        )
