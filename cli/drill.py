"""``sanqing drill``: the flood plan end to end as a drill, on this machine."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import (
    check_folders,
    console,
    err,
    fail,
    local_prefect_api,
    plain,
    prepare_prefect_env,
)
from sanqing.errors import SanqingError
from sanqing.plans import Level
from sanqing.settings import DEFAULT_LOCALE, SUPPORTED_LOCALES, Settings, get_settings

DEFAULT_DRILL_OUT = Path("drill-output")
#: How long the drill keeps retrying messages a gateway refused for now.
DRILL_SETTLE_S = 60.0


def drill(
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="A scenario name from config/scenarios/, or a .yaml file anywhere "
            "(default: orange-rainstorm)."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for notices/, reports/ and summary.json.")
    ] = DEFAULT_DRILL_OUT,
    level: Annotated[
        Level | None, typer.Option(help="Response level; default: from the warning.")
    ] = None,
    locale: Annotated[
        str, typer.Option(help=f"Language of notices and reports: {', '.join(SUPPORTED_LOCALES)}.")
    ] = DEFAULT_LOCALE,
) -> None:
    """Run the flood plan for the sample town as a drill, end to end, on this machine."""
    from sanqing.epidemic.scenario import load_epidemic_scenario, scenario_plan
    from sanqing.registry import ensure_registry
    from sanqing.scenarios import load_scenario

    settings = get_settings()
    if locale not in SUPPORTED_LOCALES:
        raise fail(
            ValueError(f"--locale must be one of {', '.join(SUPPORTED_LOCALES)}, not {locale!r}")
        )
    # Before any work: the folders take files, the scenario reads, the registry loads.
    check_folders(settings, (out, "--out folder"))
    prepare_prefect_env(settings)
    try:
        sc = (
            load_epidemic_scenario(scenario)
            if scenario_plan(scenario) == "epidemic"
            else load_scenario(scenario)
        )
        with console.status("建立数据库并载入乡镇台账 / loading the registry…"):
            ensure_registry(sc.town)
        started = time.perf_counter()
        # sc.ref: its name, or the file's absolute path; the flow run reads the same file
        figures = _run_drill(sc.ref, level, locale)
        elapsed = time.perf_counter() - started
        summary, files = _deliver_and_sum_up(figures["activation_id"], out, settings)
    except SanqingError as exc:
        raise fail(exc) from exc
    summary["out_dir"] = str(out.resolve())
    summary["flow_seconds"] = round(elapsed, 1)
    _write_summary(summary, out)
    _print_summary(summary, files)
    if figures.get("ended_before_this_run"):
        _say_it_ran_before(figures["activation_id"], locale)


def _run_drill(scenario: str, level: Level | None, locale: str) -> dict[str, Any]:
    """The drill flow on the configured Prefect API, else on our own local one."""
    with (
        console.status("启动 Prefect 本地 API 并运行预案 / running the plan under Prefect…"),
        local_prefect_api(),
    ):
        from flows.drill import drill as drill_flow

        return drill_flow(scenario=scenario, level=level, locale=locale)


def _deliver_and_sum_up(
    activation_id: str, out: Path, settings: Settings
) -> tuple[dict[str, Any], int]:
    """Deliver the drill's notices and sum the drill up: its summary, and the files written.

    Through the configured endpoints first (files for the channels without one); the
    out folder gets every notice to read and print, and without endpoints it is the
    delivery.
    """
    from sanqing.db import session_scope
    from sanqing.delivery import deliver_until_settled, last_errors, outbox_counts
    from sanqing.delivery.channels.config import configured_endpoints
    from sanqing.delivery.channels.file import deliver_to_files
    from sanqing.epidemic.summary import summarize as summarize_epidemic
    from sanqing.models import Activation
    from sanqing.reporting import summarize

    started = time.perf_counter()
    endpoints = configured_endpoints(settings)
    if endpoints:
        with console.status(f"发送 / delivering via {', '.join(endpoints)}…"):
            deliver_until_settled(activation_id=activation_id, settle_s=DRILL_SETTLE_S)
    with session_scope() as session:
        delivery = deliver_to_files(
            session=session, activation_id=activation_id, out_dir=out, mark_sent=not endpoints
        )
    with session_scope() as session:
        act = session.get(Activation, activation_id)
        if act is not None and act.plan == "epidemic":
            summary = summarize_epidemic(session, activation_id)
        else:
            summary = summarize(session=session, activation_id=activation_id)
    summary["delivery"] = outbox_counts(activation_id)
    if endpoints:
        summary["delivery_errors"] = last_errors(activation_id)
        summary["delivery_seconds"] = round(time.perf_counter() - started, 1)
    return summary, sum(delivery.notices.values())


def _write_summary(summary: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )


def _say_it_ran_before(activation_id: str, locale: str) -> None:
    """The same scenario is the same drill: its response ended, so nothing ran again."""
    from sqlmodel import select

    from sanqing.db import session_scope
    from sanqing.models import Report

    with session_scope() as session:
        written = sorted(
            set(session.exec(select(Report.locale).where(Report.activation_id == activation_id)))
        )
    other = [w for w in written if w != locale]
    language = (
        f"该次通知和报告的语言为 {'、'.join(other)}，本次 --locale {locale} 未生效。\n"
        f"Its notices and reports are in {', '.join(other)}: --locale {locale} did not apply.\n"
        if other
        else ""
    )
    err.print(
        plain(
            f"此演练（{activation_id}）已于此前运行并结束，本次未重新运行，以上为该次结果。"
            "如需从头再演练一次，请用新的数据目录（SANQING_DATA_DIR）。\n"
            "This drill had already run and ended; nothing ran again and the figures above "
            f"are that run's. To drill again from the start, use a fresh SANQING_DATA_DIR.\n{language}"
        ),
        soft_wrap=True,
    )


def _print_summary(s: dict[str, Any], files: int) -> None:
    if s.get("plan") == "epidemic":
        _print_epidemic_summary(s, files)
        return
    # Names come from the registry: every cell and line is shown as written, never as markup.
    title = (
        f"【演练】{s['town']} 防汛{s['level']}级应急响应"
        if s["drill"]
        else f"{s['town']} {s['level']}"
    )
    table = Table(title=plain(title), show_lines=False)
    table.add_column("村 village")
    for col in ("应转移户/人", "已转移户/人", "安置缺口人", "排查隐患点", "险情"):
        table.add_column(col, justify="right")
    for v in s["village_figures"]:
        table.add_row(
            plain(v["name"]),
            f"{v['households_to_relocate']}/{v['people_to_relocate']}",
            f"{v['households_relocated']}/{v['people_relocated']}",
            str(v["shortfall_people"]),
            str(v["hazard_points_inspected"]),
            str(v["hazard_points_dangerous"]),
        )
    table.add_row(
        "合计",
        f"{s['households_to_relocate']}/{s['people_to_relocate']}",
        f"{s['households_relocated']}/{s['people_relocated']}",
        str(s["shelter_shortfall_people"]),
        str(s["hazard_points_inspected"]),
        str(s["hazard_points_dangerous"]),
        style="bold",
    )
    console.print(table)
    console.print(
        plain(
            f"特殊群体已转移 {s['vulnerable_households_relocated']} 户；启用安置点 {s['shelters_used']} 处；"
            f"道路中断 {s['roads_blocked']} 处、已抢通 {s['roads_cleared']} 处"
        )
    )
    chans = "、".join(f"{k} {v}" for k, v in s["notices_by_channel"].items())
    console.print(plain(f"通知 {files} 条（{chans}）；报告 {len(s['reports'])} 份"))
    console.print(
        plain(
            f"输出 / output: {s['out_dir']}  (summary.json, notices/, reports/)  用时 {s['flow_seconds']} s"
        )
    )
    # Through real endpoints: say plainly what did not go, and why (the gateway's words).
    for channel, counts in s.get("delivery", {}).items():
        left = {k: v for k, v in counts.items() if k in ("pending", "failed", "expired") and v}
        if left:
            why = s.get("delivery_errors", {}).get(channel, "")
            err.print(
                plain("未送达 / not delivered", "bold yellow")
                + plain(
                    f" {channel}: "
                    + "，".join(f"{k} {v}" for k, v in left.items())
                    + (f"（{why}）" if why else "")
                ),
                soft_wrap=True,
            )


def _print_epidemic_summary(s: dict[str, Any], files: int) -> None:
    """The epidemic drill in a few lines: counts only."""
    title = f"【演练】{s['town']} 疫情防控{s['level']}级应急响应" if s["drill"] else s["town"]
    risk = s["persons_by_risk"]
    f, d, sup, r, p = s["followups"], s["duty"], s["supplies"], s["shuttles"], s["publicity"]
    lines = [
        title,
        f"摸排登记 {s['persons_registered']} 人（高风险 {risk.get('high', 0)}、中风险 "
        f"{risk.get('medium', 0)}、低风险 {risk.get('low', 0)}）；居家健康监测 {s['home_monitoring']} 人",
        f"随访 应随访 {f['due']} / 已随访 {f['done']} / 上报 {f['escalated']}（转卫生院 {f['referred']}）",
        f"执勤 {d['points']} 个点位 {d['shifts']} 班次，缺员 {d['uncovered_hours']:g} 小时，"
        f"最短休息 {d['min_rest_hours'] if d['min_rest_hours'] is not None else '—'} 小时，"
        f"每人每日最多 {d['max_hours_per_person_day']:g} 小时",
        f"物资 申请 {sup['requested']} / 到位 {sup['delivered']} / 缺口 {sup['short']}",
        f"接送接种 {r['residents']} 人报名，安排 {r['assigned']} 人 {r['trips']} 趟次，"
        f"满座率最高 {r['max_seat_use']:.0%}",
        f"敲门行动 {p['door_knocked']}/{p['households']} 户",
        "通知 "
        + "、".join(f"{k} {v}" for k, v in s["notices_by_channel"].items())
        + f"（{files} 条）；报告 {len(s['reports'])} 份",
        f"输出 / output: {s['out_dir']}  (summary.json, notices/, reports/)  用时 {s['flow_seconds']} s",
    ]
    for line in lines:
        console.print(plain(line), soft_wrap=True)
