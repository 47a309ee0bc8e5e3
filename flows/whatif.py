"""What-if before the rain (预演), as a flow the control room starts from a form.

The figures come from ``sanqing.whatif`` (the plan's steps on a scratch copy of the
registry, in a process of their own): nothing is written, nothing is sent. The
printout is the run's markdown artifact; its figures, without names, are in the log.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger

from flows.params import LevelChoice, locale_field, titled, town_field
from sanqing.models import Level
from sanqing.whatif import render_whatif, what_if


@flow(name="what-if", flow_run_name="whatif-{town}")
def what_if_flow(
    town: str = town_field(),
    level: LevelChoice = titled(Level.III, "响应级别", "Ⅳ级（最低）至Ⅰ级；填写预警时按预警确定"),
    warning: str | None = titled(
        None, "预警（可不填）", "CAP 或和风天气预警文件的路径或网址：按预警的级别和村测算"
    ),
    locale: str = locale_field(),
) -> dict[str, Any]:
    """预演：按预案测算需转移的群众、安置缺口、干部包保和抢险机械（不写台账，不发通知）。"""
    log = get_run_logger()
    figs = what_if(town, level=None if warning else level, warning=warning or None)
    log.info(
        "预演 %s %s级：需转移 %d 户 %d 人（特殊群体 %d 户），安置缺口 %d 人，清障机械 %d 台",
        figs["town"],
        figs["level"],
        figs["households_to_move"],
        figs["people_to_move"],
        figs["vulnerable_households"],
        figs["shelter_shortfall_people"],
        figs["machinery"]["clearing_machines"],
    )
    create_markdown_artifact(
        render_whatif(figs, locale),
        key=f"whatif-{figs['town_code']}",
        description="预演（未启动、未发送）",
    )
    return figs
