"""The epidemic prevention plan (疫情防控应急预案) of a township as a Prefect flow."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.runtime import flow_run

from flows.params import TOWN_NAMES, LevelChoice, drill_field, locale_field, titled, town_field
from sanqing.epidemic.answers import FollowUpReport
from sanqing.epidemic.scenario import EpidemicAnswers, load_epidemic_scenario
from sanqing.plans import Level
from sanqing.settings import get_settings
from tasks import epidemic_steps as step


def _run_name() -> str:
    """What ran, readable in the run list: ``epidemic-鸡峰镇-III级-0720-0800``."""
    p = flow_run.parameters
    level = getattr(p.get("level"), "value", p.get("level"))
    prefix = "drill-epidemic" if p.get("drill") else "epidemic"
    when = datetime.now(ZoneInfo(get_settings().timezone)).strftime("%m%d-%H%M")
    town = str(p.get("town"))
    return f"{prefix}-{TOWN_NAMES.get(town, town)}-{level}级-{when}"


@flow(name="epidemic-response", flow_run_name=_run_name, log_prints=False)
def epidemic_response(
    town: str = town_field(),
    level: LevelChoice = titled(Level.IV, "响应级别", "疫情防控Ⅳ级（最低）至Ⅰ级"),
    drill: bool = drill_field(),
    locale: str = locale_field(),
    scenario: str | None = titled(None, "演练脚本", "演练脚本名称（plan: epidemic）"),
    days: int = titled(1, "天数", "本次运行安排的天数（每日定时运行填1）", ge=1, le=30),
) -> dict[str, Any]:
    """疫情防控应急响应：启动 → 摸排 → 健康监测 → 宣传引导 → 24小时执勤 → 物资保障 → 接送接种 → 向上报告。

    Runs the township's epidemic plan for one town: opens (or continues) the
    response at the level, forms the mixed groups and tells every cadre their work
    arrangement; screens everyone registered (risk class and what it calls for);
    schedules the follow-ups of the monitored, with each grid member's list; sends
    the villages' publicity and door-knocking lists; rosters the points around the
    clock; requests the points' supplies; plans the vaccination rides; and writes
    each day's report to the county (a zero report on a day with nothing new). Run
    daily while the response is open: every step continues where it stands, and
    running it again the same day changes nothing. In a drill the scenario answers.
    """
    answers = drill_answers(drill, scenario)
    # 1. 启动（混合编组、工作安排）
    act = step.activate_epidemic(town, level, drill, locale, scenario, drill_start(drill, scenario))
    a = act.activation_id
    if not act.open:  # this drill ran before and ended: nothing runs again
        return step.figures(a) | {"ended_before_this_run": True}
    # 2. 摸排
    step.screen_arrivals(a)
    # 3. 健康监测
    step.follow_up(a, days, locale, answers)
    # 4. 宣传引导
    step.publicize(a, locale, answers)
    # 5. 24 小时执勤
    step.staff_points(a, days, locale, answers)
    # 6. 物资保障
    step.supply_points(a, days, answers)
    # 7. 接送疫苗接种
    step.drive_to_vaccination(a, locale, answers)
    # 8. 向上报告
    step.report_daily(a, days, locale)
    return step.figures(a)


def drill_answers(drill: bool, scenario: str | None) -> EpidemicAnswers | None:
    """A drill answers from its scenario; a real run leaves the answers to people."""
    if not drill:
        return None
    return load_epidemic_scenario(scenario).answers if scenario else EpidemicAnswers()


def drill_start(drill: bool, scenario: str | None) -> datetime | None:
    """A drill runs on its scenario's clock from its start; a real run on the wall clock."""
    return load_epidemic_scenario(scenario).starts if drill and scenario else None


@flow(name="followup-answers", flow_run_name="followups-{town}", log_prints=False)
def followup_answers(
    town: str = town_field(),
    answers: list[FollowUpReport] = titled(
        [], "随访结果", "网格员报来的随访结果：村、姓名（与摸排登记一致）、健康/有症状/联系不上"
    ),
    locale: str = locale_field(),
) -> dict[str, Any]:
    """健康监测随访登记：录入网格员报来的随访结果；有症状的转卫生院，联系不上的报包片领导。

    Each row answers that person's earliest follow-up due and not yet answered, in
    the town's running epidemic response. A row naming nobody registered in that
    village, or nobody due, is refused with its row number and why; the good rows
    are kept.
    """
    return step.record_followups(town, answers, locale)
