"""Commands for a running response: see where it stands, stand it down, patrol, 叫应, casualties.

``sanqing respond``, which starts one, is in ``cli/respond.py``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.common import FinalReportLocaleOption, TownOption, console, fail, plain
from sanqing.errors import SanqingError
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN


def patrol(
    name: Annotated[str, typer.Option(help="Who led the after-rain patrol (巡查负责人).")],
    town: TownOption = DEFAULT_TOWN,
    danger: Annotated[
        list[str] | None,
        typer.Option(help="A hazard point (name or code) still in danger; repeat for several."),
    ] = None,
    remarks: Annotated[str, typer.Option(help="What the patrol saw.")] = "",
    locale: FinalReportLocaleOption = DEFAULT_LOCALE,
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
    town: TownOption = DEFAULT_TOWN,
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
    town: TownOption = DEFAULT_TOWN,
    note: Annotated[str, typer.Option(help="What they said.")] = "",
) -> None:
    """Record that a cadre acknowledged their tasks (叫应): resends and hand-ups stop."""
    from sanqing.db import session_scope
    from sanqing.epidemic.answers import acknowledge_everywhere
    from sanqing.registry import ensure_registry

    try:
        town_code = ensure_registry(town)
        with session_scope() as session:
            n = acknowledge_everywhere(
                session, town=town, town_code=town_code, cadre=cadre, note=note
            )
    except SanqingError as exc:
        raise fail(exc) from exc
    console.print(plain(f"已叫应：{cadre} 的 {n} 份任务记为已回复。"))


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
    town: TownOption = DEFAULT_TOWN,
    drill: Annotated[bool, typer.Option(help="Stand down the town's drill instead.")] = False,
    locale: FinalReportLocaleOption = DEFAULT_LOCALE,
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
