"""Commands for a running response: the after-rain patrol, a cadre's acknowledgement."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, fail
from sanqing.errors import SanqingError
from sanqing.settings import DEFAULT_LOCALE, DEFAULT_TOWN


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
    from sanqing import command, response
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
            done = command.record_patrol(
                session, activation_id=act.id, plan=plan, answer=answer, locale=locale
            )
            act_id = act.id
    except (SanqingError, ValueError) as exc:
        raise fail(exc) from exc
    if done:
        console.print(f"雨后巡查确认安全：{act_id} 应急响应已结束，终报已生成。")
    elif danger:
        console.print(f"雨后巡查仍有险情：{act_id} 应急响应继续，群众不得返回。")
    else:
        console.print(f"雨后巡查已记录：{act_id} 尚未申请结束响应，解除后即可结束。")


def ack(
    cadre: Annotated[str, typer.Argument(help="The cadre who answered: name or code.")],
    town: Annotated[str, typer.Option(help="Town key, code or name.")] = DEFAULT_TOWN,
    note: Annotated[str, typer.Option(help="What they said.")] = "",
) -> None:
    """Record that a cadre acknowledged their tasks (叫应): resends and hand-ups stop."""
    from sanqing.acknowledge import acknowledge
    from sanqing.db import session_scope
    from sanqing.registry import ensure_registry
    from sanqing.response import open_activation

    try:
        town_code = ensure_registry(town)
        with session_scope() as session:
            act = open_activation(session, town_code=town_code, plan="flood", drill=False)
            if act is None:
                raise SanqingError(f"{town}: no running response")
            n = acknowledge(session, activation_id=act.id, cadre=cadre, note=note)
    except SanqingError as exc:
        raise fail(exc) from exc
    console.print(f"已叫应：{cadre} 的 {n} 份任务记为已回复。")
