"""The flood emergency plan (防汛应急预案) of a township as a Prefect flow."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from prefect import flow, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import as_completed
from prefect.runtime import flow_run
from pydantic import Field

from sanqing import reporting
from sanqing.db import session_scope
from sanqing.models import InspectionPhase, Report
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry
from sanqing.response import check_field_reports
from sanqing.scenarios import FindingInput, RoadReport
from sanqing.settings import DEFAULT_LOCALE
from sanqing.warning import WarningInfo
from tasks.plan_steps import (
    activate_plan,
    assign_shelters,
    clear_roads,
    inspect_hazards,
    issue_notices,
    plan_relocations,
    report_upward,
    simulate_moves,
)


def _run_name() -> str:
    p = flow_run.parameters
    level = p.get("level") or (p.get("warning") and "auto") or "auto"
    level = getattr(level, "value", level)
    prefix = "drill" if p.get("drill") else "flood"
    return f"{prefix}-{p.get('town')}-{level}"


@flow(name="flood-response", flow_run_name=_run_name, log_prints=False)
def flood_response(
    town: str = Field(
        "jifeng",
        description="乡镇（台账目录名、区划代码或名称）",
        json_schema_extra={"title": "乡镇"},
    ),
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
    locale: str = Field(
        DEFAULT_LOCALE, description="zh-CN 或 en", json_schema_extra={"title": "语言"}
    ),
    plan: str = Field(
        "flood", description="config/plans/ 下的预案", json_schema_extra={"title": "预案"}
    ),
    scenario: str | None = Field(
        None, description="演练脚本名称", json_schema_extra={"title": "演练脚本"}
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
    with session_scope() as session:
        check_field_reports(
            session, town_code=town_code, findings=findings or [], roads=roads or []
        )

    # 1. 启动预案
    act = activate_plan(town, level, warning, drill, plan_name=plan, scenario=scenario)
    villages = act.village_codes

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

    # 3. 人员转移: who moves per village, shelters for the town, then the notices
    progress.wait(plan_relocations.map(unmapped(act.activation_id), villages, unmapped(plan)))
    assign_shelters(act.activation_id, plan_name=plan)
    if drill:
        simulate_moves(act.activation_id)
    progress.wait(
        issue_notices.map(unmapped(act.activation_id), villages, unmapped(locale), unmapped(plan))
    )

    # 4. 道路抢通
    clear_roads(act.activation_id, roads or [], plan_name=plan)

    # 5. 向上报告
    report_id = report_upward(act.activation_id, locale=locale, plan_name=plan)

    with session_scope() as session:
        figures = reporting.summarize(session=session, activation_id=act.activation_id)
        report = session.get(Report, report_id)
        report_text = report.text if report else ""
    _publish_artifacts(figures, report_text)
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

    def wait(self, futures: Any) -> None:
        """Wait for every village of a step, moving the bar as they finish; raise on failure."""
        pending = list(futures)
        for i, future in enumerate(as_completed(pending), start=1):
            future.result()  # a failed village fails the run (after its retries)
            self.done += 1
            if i == len(pending) or time.monotonic() - self.last >= self.MIN_INTERVAL_S:
                update_progress_artifact(self.artifact_id, progress=100.0 * self.done / self.steps)
                self.last = time.monotonic()


def _publish_artifacts(figures: dict[str, Any], report_text: str) -> None:
    """The situation in the UI: relocations per village and the report (aggregates only)."""
    key = "".join(ch if ch.isalnum() else "-" for ch in figures["activation_id"].lower())[:90]
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
