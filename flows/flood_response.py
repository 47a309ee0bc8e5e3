"""The flood emergency plan (防汛应急预案) of a township as a Prefect flow."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from prefect import flow, unmapped
from prefect.futures import PrefectFutureList
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from flows.artifacts import VillageProgress, end_state, publish_artifacts, publish_print_folder
from flows.control import VILLAGE_TASKS, can_answer
from flows.params import (
    TOWN_NAMES,
    BasisChoice,
    LevelOrWarning,
    PhaseChoice,
    drill_field,
    level_field,
    locale_field,
    plan_field,
    titled,
    town_field,
    warning_field,
)
from flows.people import approve_moves, simulated_answers, take_roll_call
from sanqing.answers import SimulatedAnswers
from sanqing.models import InspectionPhase
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import ensure_registry
from sanqing.response import ActivationResult, InspectionResult, village_groups
from sanqing.scenarios import FindingInput, RoadReport
from sanqing.settings import get_settings
from sanqing.warning import WarningInfo
from tasks import records
from tasks.command_steps import advance_clock, approval_needed, inform_commander
from tasks.plan_steps import (
    activate_plan,
    assign_shelters,
    clear_roads,
    inspect_hazards,
    issue_notices,
    plan_relocations,
    report_upward,
    write_print_folder,
)


def _run_name() -> str:
    """What ran, readable in the run list: ``flood-鸡峰镇-II级-0712-1830``."""
    p = flow_run.parameters
    level = p.get("level")
    level = f"{getattr(level, 'value', level)}级" if level else "按预警"
    prefix = "drill" if p.get("drill") else "flood"
    when = datetime.now(ZoneInfo(get_settings().timezone)).strftime("%m%d-%H%M")
    town = str(p.get("town"))
    return f"{prefix}-{TOWN_NAMES.get(town, town)}-{level}-{when}"


@flow(name="flood-response", flow_run_name=_run_name, log_prints=False)
def flood_response(
    town: str = town_field(),
    level: LevelOrWarning = level_field(),
    warning: WarningInfo | None = warning_field(),
    drill: bool = drill_field(),
    findings: list[FindingInput] | None = titled(None, "排查发现", "监测员报告的隐患点情况"),
    roads: list[RoadReport] | None = titled(None, "道路中断", "中断的道路"),
    phase: PhaseChoice = titled(None, "排查阶段", "按响应级别：该级别的第一个排查阶段"),
    locale: str = locale_field(),
    plan: str = plan_field(),
    scenario: str | None = titled(None, "演练脚本", "演练脚本名称"),
    basis: BasisChoice = titled(None, "启动依据", "不选：有预警按预警，无预警按镇防指会商研判"),
) -> dict[str, Any]:
    """防汛应急响应：启动预案 → 隐患排查 → 人员转移 → 道路抢通 → 向上报告。

    Runs the township's flood plan for one town: opens (or continues) the
    activation at the given level — or the level the plan gives the warning —,
    puts every hazard point on the monitors' checklists and records their
    findings, decides who moves (vulnerable households first), places them in
    shelters, writes every notice to the outbox, sends machinery to blocked
    roads and writes the initial report (首报) to the county — and a numbered
    follow-up (续报) when a later run finds the figures changed. A run while
    the town's response is open continues it (a higher level raises it, never
    lowers it); running it again with nothing new changes nothing: no second
    relocation, notice or report. In a drill every notice and report is marked
    【演练】.
    """
    the_plan = load_plan(plan)
    level = level if level is not None else level_for_warning(the_plan, warning)
    phase = phase or the_plan.level(level).inspection_phases[0]
    records.check_field_reports(ensure_registry(town), findings or [], roads or [])

    # 1. 启动预案
    act = activate_plan(town, level, warning, drill, plan_name=plan, scenario=scenario, basis=basis)
    if act.refused is not None:  # its warning was cancelled or superseded meanwhile
        return {"activation_id": None, "town": town, "status": "not_started", "reason": act.refused}
    if not act.open:  # this warning's response has ended: nothing to run again
        return finished(act.activation_id)
    # Villages fan out one task each; a big town's go in groups (a task run costs ~10 ms).
    villages = village_groups(act.village_codes, VILLAGE_TASKS.get())
    progress = VillageProgress(town, steps=3 * len(villages))
    # 2. 隐患排查 (villages concurrently)
    progress.wait(inspect_villages(act.activation_id, villages, phase, findings or [], drill, plan))
    # 3. 人员转移
    answers = simulated_answers(drill, scenario)
    approved = relocate_residents(act, villages, plan, locale, answers, progress)
    # 4. 道路抢通
    clear_roads(act.activation_id, roads or [], plan_name=plan)
    if patrols_in_rain(the_plan, act.level, phase):  # 雨中除险
        remove_dangers_in_rain(act, villages, plan, locale, drill, answers, approved=approved)
    # 5. 向上报告
    report_id = report_after_roll_call(act.activation_id, plan=plan, locale=locale, answers=answers)
    # "Completed" would read as "the response ended": the state says whether it goes on.
    # Prefect makes a returned state the run's final one and gives callers its data.
    return cast(dict[str, Any], end_state(publish(act.activation_id, report_id)))


def level_for_warning(plan: Plan, warning: WarningInfo | None) -> Level:
    """The level the plan gives the warning: a run needs one or the other."""
    if warning is None:
        raise ValueError("give a response level, or a warning the plan can map to a level")
    return plan.level_for_warning(warning.hazard, warning.colour)


def finished(activation_id: str) -> dict[str, Any]:
    """The figures of a response that has ended, for a run that arrived after its end."""
    get_run_logger().warning(
        "响应 %s 已结束：本次运行不再下达任何指令；如需重新启动，请人工启动新的响应 / "
        "the response has ended; nothing was run again",
        activation_id,
    )
    figures = records.figures(activation_id)
    publish_artifacts(figures, records.report_text(activation_id))
    figures["ended_before_this_run"] = True
    return figures


def inspect_villages(
    activation_id: str,
    villages: list[list[str]],
    phase: InspectionPhase,
    findings: list[FindingInput],
    drill: bool,
    plan: str,
) -> PrefectFutureList[list[InspectionResult]]:
    """隐患排查: every hazard point of the villages checked, a task per group of villages."""
    return inspect_hazards.map(
        unmapped(activation_id),
        villages,
        unmapped(phase),
        unmapped(findings),
        unmapped(drill),
        unmapped(plan),
    )


def notify_villages(
    activation_id: str, villages: list[list[str]], locale: str, plan: str
) -> PrefectFutureList[Any]:
    """The villages' notices to the outbox, a task per group of villages."""
    return issue_notices.map(unmapped(activation_id), villages, unmapped(locale), unmapped(plan))


def relocate_residents(
    act: ActivationResult,
    villages: list[list[str]],
    plan: str,
    locale: str,
    answers: SimulatedAnswers | None,
    progress: VillageProgress,
) -> bool:
    """人员转移: who moves, their shelters and their notices; whether the moves were approved.

    Danger found, a point that cannot be judged, a danger zone at night move at once
    (三个紧急撤离) and the commander is told; the planned, wider moves wait for the
    commander's approval where the plan says so. Then per village who moves,
    shelters for the town, and the notices; the village steps are all done then
    (also those a held approval skipped).
    """
    if approval_needed(act.activation_id, plan_name=plan):
        move_at_once(act.activation_id, villages, plan=plan, locale=locale)
    if answers is not None and act.created:  # a drill's commander answers on its clock
        advance_clock(act.activation_id, answers.minutes.approval)
    approved = approve_moves(act.activation_id, plan, answers)
    if approved:
        progress.wait(plan_relocations.map(unmapped(act.activation_id), villages, unmapped(plan)))
        assign_shelters(act.activation_id, plan_name=plan)
        progress.wait(notify_villages(act.activation_id, villages, locale, plan))
    progress.finish()
    return approved


def move_at_once(
    activation_id: str, villages: list[list[str]], *, plan: str, locale: str, all_: bool = False
) -> bool:
    """三个紧急撤离: order who moves at once, place them, tell them and the commander.

    Only the villages where someone moves now are told; with ``all_`` (the planned
    moves were approved already) everyone the level moves is ordered. Returns
    whether anyone moves now.
    """
    results = plan_relocations.map(
        unmapped(activation_id), villages, unmapped(plan), unmapped(not all_)
    ).result()
    moving = [r.village_code for group in results for r in group if r.households]
    if not moving:
        return False
    assign_shelters(activation_id, plan_name=plan)
    moving_groups = village_groups(moving, VILLAGE_TASKS.get())
    notify_villages(activation_id, moving_groups, locale, plan).result()
    inform_commander(activation_id, locale=locale)
    return True


def patrols_in_rain(plan: Plan, level: str, phase: InspectionPhase) -> bool:
    """Whether the monitors patrol again while it rains: a run before the rain, where the
    level's plan has a during-rain inspection."""
    return (
        phase == InspectionPhase.BEFORE
        and InspectionPhase.DURING in plan.level(level).inspection_phases
    )


def remove_dangers_in_rain(
    act: ActivationResult,
    villages: list[list[str]],
    plan: str,
    locale: str,
    drill: bool,
    answers: SimulatedAnswers | None,
    *,
    approved: bool,
) -> None:
    """雨中除险: the monitors patrol their points again while it rains; danger found now
    moves the households it threatens at once, as before the approval."""
    if answers is not None and act.created:
        advance_clock(act.activation_id, answers.minutes.in_rain)
    during = answers.during if answers else []
    in_rain = inspect_villages(
        act.activation_id, villages, InspectionPhase.DURING, during, drill, plan
    ).result()
    if any(r.dangerous for group in in_rain for r in group):
        move_at_once(act.activation_id, villages, plan=plan, locale=locale, all_=approved)


def report_after_roll_call(
    activation_id: str, *, plan: str, locale: str, answers: SimulatedAnswers | None
) -> str | None:
    """向上报告: the initial report, then the villages' roll call and a follow-up (续报).

    A place freed by 投亲靠友 after the roll call goes to a household that had none:
    its cadre's lists are issued anew.
    """
    report_id = report_upward(activation_id, locale=locale, plan_name=plan)
    if take_roll_call(activation_id, plan=plan, locale=locale, answers=answers):
        placed = assign_shelters(activation_id, plan_name=plan)
        if placed.changed_villages:
            changed = village_groups(list(placed.changed_villages), VILLAGE_TASKS.get())
            notify_villages(activation_id, changed, locale, plan).result()
        report_id = report_upward(activation_id, locale=locale, plan_name=plan)
    return report_id


def publish(activation_id: str, report_id: str | None) -> dict[str, Any]:
    """The figures, shown in the UI with the report; in a control room the print folder too."""
    figures = records.figures(activation_id)
    publish_artifacts(figures, records.report_text(activation_id, report_id))
    if can_answer():  # a control room: the notices and cards as files to open and print
        publish_print_folder(figures, *write_print_folder(activation_id))
    return figures
