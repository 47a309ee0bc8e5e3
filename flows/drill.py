"""A training drill from a scenario file, as a flow the coordinator can start in the UI."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.flows import Flow

from flows.artifacts import publish_review
from flows.epidemic_response import epidemic_response
from flows.flood_response import flood_response
from flows.params import LevelOrWarning, locale_field, titled
from sanqing.epidemic.overlay import EPIDEMIC
from sanqing.epidemic.scenario import load_epidemic_scenario, scenario_plan
from sanqing.errors import ScenarioError
from sanqing.plans import Level
from sanqing.scenarios import DEFAULT_SCENARIO, load_scenario
from sanqing.settings import SUPPORTED_LOCALES
from tasks import epidemic_steps, records
from tasks.command_steps import advance_clock, end_response
from tasks.overlay_steps import open_epidemic_drill


def stand_down_failed_drill(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    """A drill that failed or crashed ends its activation: nothing of it keeps places or machines.

    Drills of a town share the town's open drill activation (a real response never
    counts a drill's places): whatever is open for the town's drills is stood down.
    """
    ref = flow_run.parameters.get("scenario")
    try:
        sc = load_epidemic_scenario(ref) if scenario_plan(ref) == "epidemic" else load_scenario(ref)
    except ScenarioError:  # the drill failed on its scenario: nothing was opened
        return
    why = type(state.data).__name__ if isinstance(state.data, BaseException) else state.name
    reason = f"演练中断（{why}），自动结束；原因见 Prefect 运行记录 {flow_run.name}"
    records.stand_down_drill(sc.town, sc.plan, reason)
    if getattr(sc, "epidemic", None) is not None:  # 三情叠加: its epidemic drill ends too
        records.stand_down_drill(sc.town, EPIDEMIC, reason)


@flow(
    name="drill",
    flow_run_name="drill-{scenario}",
    on_failure=[stand_down_failed_drill],
    on_crashed=[stand_down_failed_drill],
)
def drill(
    scenario: str = titled(
        DEFAULT_SCENARIO, "演练脚本", "config/scenarios/ 中的脚本名称，或脚本文件路径"
    ),
    level: LevelOrWarning = titled(None, "响应级别", "不选：按演练脚本的级别（或其预警）"),
    locale: str = locale_field(),
) -> dict[str, Any]:
    """应急演练：按演练脚本（config/scenarios/ 中的名称，或脚本文件路径）完整运行一次防汛预案，所有通知和报告标注【演练】。

    Runs the flood plan as a drill with the scenario's warning (at its level, or
    the one given), monitors' findings and road reports; nothing is sent to
    residents as a real order. When it has run, the drill ends: its shelter
    places and machines are free again — also when the drill fails half-way.

    The commander's approval, the villages' roll calls and the after-rain patrol
    answer from the scenario (marked 演练模拟 in the timeline): a drill never waits.

    A scenario with ``epidemic:`` (三情叠加) first opens the town's epidemic response
    as a drill at that level and screens the town's register: people under home
    monitoring move only to isolation places. It ends with the flood.
    """
    # Everything that can be checked is checked before the plan is activated.
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"locale must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")
    if scenario_plan(scenario) == "epidemic":
        return epidemic_drill(scenario, level, locale)
    sc = load_scenario(scenario)
    if sc.epidemic is not None:  # 三情叠加: the town runs the epidemic plan when the rain comes
        open_epidemic_drill(sc.town, sc.epidemic.level, sc.epidemic.registrations, sc.warning.sent)
    figures = flood_response(
        town=sc.town,
        level=level or sc.level,
        warning=sc.warning,
        drill=True,
        findings=sc.findings,
        roads=sc.roads,
        locale=locale,
        plan=sc.plan,
        scenario=sc.ref,  # the subflow reads the answers from this very file
    )
    # The rain stops; the scenario's after-rain patrol reports all clear (on the drill's
    # clock): the drill ends with its final report.
    if figures.get("activation_id") and not figures.get("ended_before_this_run"):
        advance_clock(figures["activation_id"], sc.answers.minutes.patrol)
    if end_response(
        figures["activation_id"],
        "演练结束",
        locale=locale,
        plan_name=sc.plan,
        simulated_patrol=sc.answers.patrol,
    ):
        publish_review(figures["activation_id"], locale)
    if sc.epidemic is not None:
        records.stand_down_drill(sc.town, EPIDEMIC, "演练结束")
    return figures


def epidemic_drill(scenario: str, level: Level | None, locale: str) -> dict[str, Any]:
    """The epidemic plan as a drill: the scenario's register imported, its days run with its
    answers, then the response ends."""
    sc = load_epidemic_scenario(scenario)
    if sc.registrations:
        epidemic_steps.import_register(sc.town, sc.registrations, sc.starts)
    figures = epidemic_response(
        town=sc.town,
        level=level or sc.level,
        drill=True,
        locale=locale,
        scenario=sc.ref,
        days=sc.days,
    )
    epidemic_steps.end_drill(figures["activation_id"], sc.days)
    return figures
