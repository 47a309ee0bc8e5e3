"""The flood emergency plan (防汛应急预案) of a township as a Prefect flow."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from prefect import flow, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import as_completed
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from pydantic import Field

from flows.control import ApprovalInput, RollCallInput, as_answer, ask, can_answer
from flows.params import TOWN_NAMES, locale_field, plan_field, town_field
from sanqing.answers import ApprovalAnswer, SimulatedAnswers
from sanqing.errors import AnswerError
from sanqing.labels import label
from sanqing.models import InspectionPhase, StartBasis
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry
from sanqing.response import village_groups
from sanqing.scenarios import FindingInput, RoadReport, load_scenario
from sanqing.settings import DEFAULT_LOCALE, get_settings
from sanqing.warning import WarningInfo
from tasks import records
from tasks.command_steps import (
    advance_clock,
    approval_needed,
    escalate_unconfirmed,
    inform_commander,
    outstanding,
    record_approval,
    record_follow_up,
    record_roll_call,
    request_approval,
)
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
    level: Level | None = Field(
        None,
        description="Ⅳ级（最低）至Ⅰ级；不填则按预警确定",
        json_schema_extra={"title": "响应级别"},
    ),
    warning: WarningInfo | None = Field(
        None, description="预警信息（人工启动可不填）", json_schema_extra={"title": "预警"}
    ),
    drill: bool = Field(
        False, description="演练：所有通知和报告标注【演练】", json_schema_extra={"title": "演练"}
    ),
    findings: list[FindingInput] | None = Field(
        None, description="监测员报告的隐患点情况", json_schema_extra={"title": "排查发现"}
    ),
    roads: list[RoadReport] | None = Field(
        None, description="中断的道路", json_schema_extra={"title": "道路中断"}
    ),
    phase: InspectionPhase | None = Field(
        None,
        description="before 雨前 / during 雨中 / after 雨后",
        json_schema_extra={"title": "排查阶段"},
    ),
    locale: str = locale_field(),
    plan: str = plan_field(),
    scenario: str | None = Field(
        None, description="演练脚本名称", json_schema_extra={"title": "演练脚本"}
    ),
    basis: StartBasis | None = Field(
        None,
        description="county_notice 县防指通知 / town_assessment 镇防指会商研判 / warning 预警自动；"
        "不填：有预警按预警，无预警按镇防指会商研判",
        json_schema_extra={"title": "启动依据"},
    ),
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
    if level is None:
        if warning is None:
            raise ValueError("give a response level, or a warning the plan can map to a level")
        level = the_plan.level_for_warning(warning.hazard, warning.colour)
    phase = phase or the_plan.level(level).inspection_phases[0]
    town_code = ensure_registry(town)
    records.check_field_reports(town_code, findings or [], roads or [])

    # 1. 启动预案
    act = activate_plan(town, level, warning, drill, plan_name=plan, scenario=scenario, basis=basis)
    if act.refused is not None:  # its warning was cancelled or superseded meanwhile
        return {"activation_id": None, "town": town, "status": "not_started", "reason": act.refused}
    if not act.open:  # this warning's response has ended: nothing to run again
        return finished(act.activation_id)
    # Villages fan out one task each; a big town's go in groups (a task run costs ~10 ms).
    villages = village_groups(act.village_codes)

    progress = VillageProgress(town, steps=3 * len(villages))

    # 2. 隐患排查 (villages concurrently)
    progress.wait(
        inspect_hazards.map(
            unmapped(act.activation_id),
            villages,
            unmapped(phase),
            unmapped(findings or []),
            unmapped(drill),
            unmapped(plan),
        )
    )

    # 3. 人员转移: danger found, a point that cannot be judged, a danger zone at night
    #    move at once (三个紧急撤离) and the commander is told; the planned, wider moves
    #    wait for the commander's approval where the plan says so. Then per village who
    #    moves, shelters for the town, and the notices.
    answers = simulated_answers(drill, scenario)
    if approval_needed(act.activation_id, plan_name=plan):
        move_at_once(act.activation_id, villages, plan=plan, locale=locale)
    if answers is not None and act.created:  # a drill's commander answers on its clock
        advance_clock(act.activation_id, answers.minutes.approval)
    approved = approve_moves(act.activation_id, plan, answers)
    if approved:
        progress.wait(plan_relocations.map(unmapped(act.activation_id), villages, unmapped(plan)))
        assign_shelters(act.activation_id, plan_name=plan)
        progress.wait(
            issue_notices.map(
                unmapped(act.activation_id), villages, unmapped(locale), unmapped(plan)
            )
        )
    progress.finish()

    # 4. 道路抢通
    clear_roads(act.activation_id, roads or [], plan_name=plan)

    # 雨中除险: while it rains the monitors patrol their points again; danger found now
    # moves the households it threatens at once, as before the approval
    if (
        phase == InspectionPhase.BEFORE
        and InspectionPhase.DURING in the_plan.level(act.level).inspection_phases
    ):
        if answers is not None and act.created:
            advance_clock(act.activation_id, answers.minutes.in_rain)
        in_rain = inspect_hazards.map(
            unmapped(act.activation_id),
            villages,
            unmapped(InspectionPhase.DURING),
            unmapped(answers.during if answers else []),
            unmapped(drill),
            unmapped(plan),
        ).result()
        if any(r.dangerous for group in in_rain for r in group):
            move_at_once(act.activation_id, villages, plan=plan, locale=locale, all_=approved)

    # 5. 向上报告: the initial report, then the villages' roll call and a follow-up (续报)
    report_id = report_upward(act.activation_id, locale=locale, plan_name=plan)
    if take_roll_call(act.activation_id, plan=plan, locale=locale, answers=answers):
        # a place freed by 投亲靠友 goes to a household that had none; its cadre's lists anew
        placed = assign_shelters(act.activation_id, plan_name=plan)
        if placed.changed_villages:
            issue_notices.map(
                unmapped(act.activation_id),
                village_groups(list(placed.changed_villages)),
                unmapped(locale),
                unmapped(plan),
            ).result()
        report_id = report_upward(act.activation_id, locale=locale, plan_name=plan)

    figures = records.figures(act.activation_id)
    _publish_artifacts(figures, records.report_text(act.activation_id, report_id))
    if can_answer():  # a control room: the notices and cards as files to open and print
        _publish_print_folder(figures, *write_print_folder(act.activation_id))
    return figures


def finished(activation_id: str) -> dict[str, Any]:
    """The figures of a response that has ended, for a run that arrived after its end."""
    get_run_logger().warning(
        "响应 %s 已结束：本次运行不再下达任何指令；如需重新启动，请人工启动新的响应 / "
        "the response has ended; nothing was run again",
        activation_id,
    )
    figures = records.figures(activation_id)
    _publish_artifacts(figures, records.report_text(activation_id))
    figures["ended_before_this_run"] = True
    return figures


class VillageProgress:
    """A progress artifact in the run: village steps done out of all of them.

    Updated as villages finish, at most once a second and at the end of each
    step: every update is an API call, and a county run has hundreds of villages.
    """

    MIN_INTERVAL_S = 1.0

    def __init__(self, town: str, *, steps: int) -> None:
        self.steps, self.done = max(steps, 1), 0
        artifact_id = create_progress_artifact(
            progress=0.0, description=f"{town}: 各村排查、转移、通知进度 / village steps done"
        )
        assert isinstance(artifact_id, UUID)  # a sync flow: not the coroutine of the async variant
        self.artifact_id = artifact_id
        self.last = time.monotonic()

    def finish(self) -> None:
        """All village steps done (also those a held approval skipped)."""
        if self.done < self.steps:
            self.done = self.steps
            update_progress_artifact(self.artifact_id, progress=100.0)

    def wait(self, futures: Any) -> None:
        """Wait for every village of a step, moving the bar as they finish; raise on failure."""
        pending = list(futures)
        for i, future in enumerate(as_completed(pending), start=1):
            future.result()  # a failed village fails the run (after its retries)
            self.done += 1
            if i == len(pending) or time.monotonic() - self.last >= self.MIN_INTERVAL_S:
                update_progress_artifact(self.artifact_id, progress=100.0 * self.done / self.steps)
                self.last = time.monotonic()


def simulated_answers(drill: bool, scenario: str | None) -> SimulatedAnswers | None:
    """A drill answers from its scenario (or the defaults); a real run asks people."""
    if not drill:
        return None
    return load_scenario(scenario).answers if scenario else SimulatedAnswers()


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
    issue_notices.map(
        unmapped(activation_id), village_groups(moving), unmapped(locale), unmapped(plan)
    ).result()
    inform_commander(activation_id, locale=locale)
    return True


def approve_moves(activation_id: str, plan: str, answers: SimulatedAnswers | None) -> bool:
    """Whether residents may be told to move: asks the commander when the plan says so.

    A drill takes the scenario's answer; a run nobody can answer applies the plan's
    timeout rule at once; otherwise the run pauses with the approval form.
    """
    request = request_approval(activation_id, plan_name=plan)
    if request is None:
        return True
    if answers is not None:
        return record_approval(
            request.approval_id, answers.approval, request.on_timeout, simulated=True
        ).moves
    if not can_answer():
        return record_approval(request.approval_id, None, request.on_timeout, unattended=True).moves
    get_run_logger().warning("waiting for the commander's approval: %s", request.reason)
    answer = ask(
        ApprovalInput,
        description=request.question,
        timeout_s=request.timeout_s,
        key=f"approval-{request.approval_id}",
    )
    given = as_answer(answer, ApprovalAnswer) if answer is not None else None
    return record_approval(request.approval_id, given, request.on_timeout).moves


def take_roll_call(
    activation_id: str, *, plan: str, locale: str, answers: SimulatedAnswers | None
) -> bool:
    """Wait for the villages' roll calls, then escalate who is still unconfirmed.

    Returns whether anything changed (a roll call recorded, households escalated):
    then a follow-up report is due. Without a control room nobody is waited for:
    the report-upward schedule escalates households left overdue.
    """
    if not outstanding(activation_id):
        return False
    if answers is not None:
        advance_clock(activation_id, answers.minutes.roll_call)
        record_roll_call(activation_id, answers.roll_calls, simulated=True)
        escalate_unconfirmed(activation_id, locale=locale, plan_name=plan, overdue_only=False)
        # 应撤必撤: each step up the chain reports back, and whoever is still out goes on up
        for n, round_ in enumerate(answers.follow_ups, start=1):
            advance_clock(activation_id, answers.minutes.follow_up)
            record_follow_up(activation_id, round_, n)
            escalate_unconfirmed(activation_id, locale=locale, plan_name=plan, overdue_only=False)
        return True
    if not can_answer():
        return False
    logger = get_run_logger()
    rule = load_plan(plan).level(records.level_of(activation_id)).roll_call
    deadline = time.monotonic() + rule.within_minutes * 60
    recorded, n, problems = False, 0, ""
    while left := outstanding(activation_id):
        remaining = int(deadline - time.monotonic())
        if remaining <= 0:
            break
        n += 1
        answer = ask(
            RollCallInput,
            description=roll_call_question(left, remaining, problems),
            timeout_s=remaining,
            key=f"roll-call-{n}",
        )
        if answer is None:
            break
        try:
            record_roll_call(activation_id, answer.villages)
            recorded, problems = True, ""
        except AnswerError as exc:  # positions only: no typed name reaches the log
            problems = "\n".join(f"- {p}" for p in exc.problems)
            logger.error("roll call not recorded, asking again: %s", exc)
    escalated = escalate_unconfirmed(
        activation_id, locale=locale, plan_name=plan, overdue_only=False
    )
    return recorded or escalated.households > 0


def roll_call_question(left: dict[str, int], remaining_s: int, problems: str = "") -> str:
    names = records.village_names(list(left))
    lines = [f"- {names.get(code, code)}：{n}户未回报" for code, n in sorted(left.items())]
    return "\n".join(
        [
            "## 各村点名回报",
            "",
            *lines,
            "",
            f"{remaining_s // 60} 分钟后仍未核实的户将报驻村第一书记入户核实。",
            "每个村填一项：列出拒绝、联系不上的户（户编号或户主姓名），其余各户统一填“均已转移”。",
            *(["", "**上次回报未记录，请改正后重报：**", problems] if problems else []),
        ]
    )


def _artifact_key(figures: dict[str, Any]) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in figures["activation_id"].lower())[:90]


def _publish_artifacts(figures: dict[str, Any], report_text: str) -> None:
    """The situation in the UI: relocations per village and the report (aggregates only)."""
    key = _artifact_key(figures)
    create_table_artifact(
        key=f"relocations-{key}",
        table=[
            {
                "村": v["name"],
                "应转移户": v["households_to_relocate"],
                "应转移人": v["people_to_relocate"],
                "已转移户": v["households_relocated"],
                "在安置点人": v["in_shelter"],
                "拒绝": v["refused"],
                "联系不上": v["unreachable"],
                "安置缺口人": v["shortfall_people"],
            }
            for v in figures["village_figures"]
        ],
        description=f"{figures['town']} relocations per village",
    )
    create_markdown_artifact(
        key=f"report-{key}",
        markdown="```\n" + report_text + "\n```",
        description=f"{figures['town']} report upward",
    )


def _publish_print_folder(figures: dict[str, Any], folder: str, counts: dict[str, int]) -> None:
    """Links to the rendered notices and cards (files on this machine: names stay out of Prefect)."""
    root = Path(folder)
    rows = [
        f"| {label(DEFAULT_LOCALE, 'channel', ch)} | {n} | [{ch}/]({(root / 'notices' / ch).as_uri()}) |"
        for ch, n in sorted(counts.items())
    ]
    create_markdown_artifact(
        key=f"notices-{_artifact_key(figures)}",
        markdown="\n".join(
            [
                f"## {figures['town']} 通知、明白卡和报告（本机文件）",
                "",
                "| 渠道 | 份数 | 文件夹 |",
                "|---|---|---|",
                *rows,
                f"| 报告 | {len(figures['reports'])} | [reports/]({(root / 'reports').as_uri()}) |",
                "",
                f"打印文件夹：`{root}`（入户叫应清单和避险明白卡含住户信息，仅在本机保存）",
            ]
        ),
        description=f"{figures['town']} rendered notices and cards",
    )
