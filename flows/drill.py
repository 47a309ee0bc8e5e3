"""A training drill from a scenario file, as a flow the coordinator can start in the UI."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.flood_response import flood_response
from sanqing.plans import Level
from sanqing.scenarios import DEFAULT_SCENARIO, load_scenario
from sanqing.settings import DEFAULT_LOCALE
from tasks.command_steps import end_response


@flow(name="drill", flow_run_name="drill-{scenario}")
def drill(
    scenario: str = DEFAULT_SCENARIO, level: Level | None = None, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """应急演练：按演练脚本（config/scenarios/）完整运行一次防汛预案，所有通知和报告标注【演练】。

    Runs the flood plan as a drill with the scenario's warning (at its level, or
    the one given), monitors' findings and road reports; nothing is sent to
    residents as a real order. When it has run, the drill ends: its shelter
    places and machines are free again.

    The commander's approval, the villages' roll calls and the after-rain patrol
    answer from the scenario (marked 演练模拟 in the timeline): a drill never waits.
    """
    sc = load_scenario(scenario)
    figures = flood_response(
        town=sc.town,
        level=level or sc.level,
        warning=sc.warning,
        drill=True,
        findings=sc.findings,
        roads=sc.roads,
        locale=locale,
        plan=sc.plan,
        scenario=sc.name,
    )
    # The scenario's after-rain patrol reports all clear: the drill ends with its final report.
    end_response(
        figures["activation_id"],
        "演练结束",
        locale=locale,
        plan_name=sc.plan,
        simulated_patrol=sc.answers.patrol,
    )
    return figures
