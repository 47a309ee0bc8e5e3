"""A training drill from a scenario file, as a flow the coordinator can start in the UI."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.flood_response import flood_response
from sanqing.scenarios import DEFAULT_SCENARIO, load_scenario
from sanqing.settings import DEFAULT_LOCALE


@flow(name="drill", flow_run_name="drill-{scenario}")
def drill(scenario: str = DEFAULT_SCENARIO, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """应急演练：按演练脚本（config/scenarios/）完整运行一次防汛预案，所有通知和报告标注【演练】。

    Runs the flood plan as a drill with the scenario's warning, monitors'
    findings and road reports; nothing is sent to residents as a real order.
    """
    sc = load_scenario(scenario)
    return flood_response(
        town=sc.town,
        level=sc.level,
        warning=sc.warning,
        drill=True,
        findings=sc.findings,
        roads=sc.roads,
        locale=locale,
        plan=sc.plan,
        scenario=sc.name,
    )
