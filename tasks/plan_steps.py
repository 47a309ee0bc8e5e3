"""The flood plan's steps as Prefect tasks, one per village where the plan fans out.

Each task opens a session, calls one domain function and returns a small
dataclass. Idempotence lives in the database (row ids derived from the
activation and the subject), so tasks are not cached: a re-run re-checks the
database and changes nothing that is already there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from prefect.logging import get_run_logger
from sqlmodel import Session

from sanqing import reporting, response
from sanqing.db import session_scope
from sanqing.delivery.channels.file import deliver_to_files
from sanqing.feeds.liveness import warning_gone
from sanqing.models import InspectionPhase, StartBasis, Town
from sanqing.outbox import notices
from sanqing.paths import inside
from sanqing.plans import Level, Plan, load_plan
from sanqing.registry import find_town
from sanqing.scenarios import FindingInput, RoadReport
from sanqing.settings import get_settings
from sanqing.warning import WarningInfo
from tasks import run_log
from tasks.options import db_task
from tasks.resources import hold_machines

T = TypeVar("T")


@db_task("activate-plan")
def activate_plan(
    town: str,
    level: Level,
    warning: WarningInfo | None,
    drill: bool,
    plan_name: str = "flood",
    scenario: str | None = None,
    basis: StartBasis | None = None,
) -> response.ActivationResult:
    """Open the activation, put the duty roster on, alert the cadres.

    Under the town lock, the warning is read once more first: one cancelled or
    superseded since the watch handed it on opens nothing.
    """
    plan = load_plan(plan_name)
    with session_scope() as session:
        t: Town = find_town(session, town)
        response.lock_town(session, t.code)
        gone = (
            warning_gone(session, sender=warning.sender, identifier=warning.identifier)
            if warning is not None
            else None
        )
        if gone is not None:
            return refused(warning, level, gone)
        result = response.activate_plan(
            session=session,
            town=t,
            plan=plan,
            level=level,
            warning=warning,
            drill=drill,
            scenario=scenario,
            basis=basis,
            now=drill_start(plan, warning) if drill else None,
        )
    say_activated(result, plan_name)
    return result


def refused(warning: WarningInfo | None, level: Level, gone: str) -> response.ActivationResult:
    """Nothing opened: the trigger's warning is no longer in force (``gone`` says why)."""
    get_run_logger().warning(
        "warning %s is no longer in force (%s): no response is opened for it",
        warning.identifier if warning else "",
        gone,
    )
    return response.ActivationResult(
        activation_id="",
        level=level.value,
        created=False,
        village_codes=[],
        open=False,
        refused=gone,
    )


def say_activated(result: response.ActivationResult, plan_name: str) -> None:
    """Log what the activation step did: opened, continued, or found the response ended."""
    logger = get_run_logger()
    if not result.open:
        logger.warning(
            "activation %s was stood down at %s: this trigger belongs to it, nothing is changed",
            result.activation_id,
            result.stood_down_at,
        )
        return
    run_log.activated(result, plan_name)


def _group_name(prefix: str) -> Any:
    """Run names that say which villages: inspect-621221106201, or …201+2 for a group."""

    def name() -> str:
        from prefect.runtime import task_run

        codes = task_run.parameters.get("villages") or ["?"]
        more = f"+{len(codes) - 1}" if len(codes) > 1 else ""
        return f"{prefix}-{codes[0]}{more}"

    return name


def _each_village(villages: list[str], step: Callable[[Session, str], T]) -> list[T]:
    """Run a step for each village of a group, a village a transaction (a retry redoes
    only what did not commit, and the step is idempotent anyway)."""
    out = []
    for code in villages:
        with session_scope() as session:
            out.append(step(session, code))
    if any(getattr(r, "closed", False) for r in out):
        say_closed(f"{len(villages)} village(s)")
    return out


def say_closed(what: str) -> None:
    """The activation was stood down while this run went on: the step did nothing."""
    get_run_logger().warning(
        "the response was stood down meanwhile: nothing done for %s (no order, list or "
        "report is written for a response that has ended)",
        what,
    )


def drill_start(plan: Plan, warning: WarningInfo | None) -> datetime | None:
    """A drill starts on its scenario's clock: the warning's time plus the reaction time."""
    if warning is None or warning.sent is None:
        return None  # nothing to start from: the wall clock
    return warning.sent + timedelta(minutes=plan.defaults.drill_reaction_minutes)


@db_task("inspect-hazards", task_run_name=_group_name("inspect"))
def inspect_hazards(
    activation_id: str,
    villages: list[str],
    phase: InspectionPhase,
    findings: list[FindingInput],
    drill: bool,
    plan_name: str = "flood",
) -> list[response.InspectionResult]:
    """Check every hazard point of these villages and record what the monitors found."""
    plan = load_plan(plan_name)
    with session_scope() as session:  # the findings name points: resolve them once
        act = response.get_activation(session, activation_id)
        resolved = response.resolve_findings(session, town_code=act.town_code, findings=findings)
    results = _each_village(
        villages,
        lambda session, code: response.inspect_hazards(
            session=session,
            activation_id=activation_id,
            village_code=code,
            phase=phase,
            plan=plan,
            findings=resolved,
            drill=drill,
        ),
    )
    if not any(r.closed for r in results):
        run_log.inspected(villages, phase, results)
    return results


@db_task("plan-relocations", task_run_name=_group_name("relocate"))
def plan_relocations(
    activation_id: str, villages: list[str], plan_name: str = "flood", urgent_only: bool = False
) -> list[response.VillageRelocationResult]:
    """Decide who in these villages moves, in what order, with which cadre.

    ``urgent_only``: only those who move at once, before any approval (三个紧急撤离).
    """
    plan = load_plan(plan_name)
    results = _each_village(
        villages,
        lambda session, code: response.plan_relocations(
            session=session,
            activation_id=activation_id,
            village_code=code,
            plan=plan,
            urgent_only=urgent_only,
        ),
    )
    if not any(r.closed for r in results):
        run_log.relocated(villages, results, urgent_only=urgent_only)
    return results


@db_task("assign-shelters")
def assign_shelters(activation_id: str, plan_name: str = "flood") -> response.ShelterResult:
    """Place the town's relocated households in shelters, most urgent first."""
    plan = load_plan(plan_name)
    with session_scope() as session:
        result = response.assign_town_shelters(
            session=session, activation_id=activation_id, plan=plan
        )
    if result.closed:
        say_closed("shelters")
        return result
    run_log.sheltered(result)
    if result.shortfall_people:
        get_run_logger().warning(
            "安置点不足：%d户%d人无安置点，需县里支援",
            result.shortfall_households,
            result.shortfall_people,
        )
    return result


@db_task("issue-notices", task_run_name=_group_name("notices"))
def issue_notices(
    activation_id: str, villages: list[str], locale: str, plan_name: str = "flood"
) -> list[notices.NoticeResult]:
    """Write these villages' SMS, group messages, broadcasts, lists and cards to the outbox."""
    plan = load_plan(plan_name)
    results = _each_village(
        villages,
        lambda session, code: notices.issue_notices(
            session=session,
            activation_id=activation_id,
            village_code=code,
            plan=plan,
            locale=locale,
        ),
    )
    if not any(r.closed for r in results):
        run_log.notified(villages, results)
    return results


@db_task("clear-roads")
def clear_roads(
    activation_id: str, reports: list[RoadReport], plan_name: str = "flood"
) -> response.RoadResult:
    """Record blocked roads, send machinery, reopen what was cleared.

    Holds the town's machine slots (Prefect global concurrency limits, where the
    control room created them) while it decides the dispatch.
    """
    plan = load_plan(plan_name)
    if not reports:
        with session_scope() as session:  # nothing reported: only reopen what was cleared
            result = response.clear_roads(
                session=session, activation_id=activation_id, reports=reports, plan=plan
            )
    else:
        with hold_machines(activation_id), session_scope() as session:
            result = response.clear_roads(
                session=session, activation_id=activation_id, reports=reports, plan=plan
            )
    if result.closed:
        say_closed("roads")
    else:
        run_log.roads(result)
    return result


@db_task("report-upward")
def report_upward(
    activation_id: str, locale: str = "zh-CN", plan_name: str = "flood"
) -> str | None:
    """Report upward: the initial report, then a follow-up whenever the figures changed.

    None when the response has ended meanwhile (its final report was the last).
    """
    plan = load_plan(plan_name)
    with session_scope() as session:
        before = run_log.report_count(session, activation_id)
        report = reporting.report_upward(
            session=session, activation_id=activation_id, plan=plan, locale=locale
        )
        said = run_log.report_line(
            report, new=run_log.report_count(session, activation_id) > before
        )
    if report is None:
        say_closed("the report upward")
        return None
    run_log.say(said)
    return report.id


@db_task("print-folder", retry_condition_fn=None)
def write_print_folder(activation_id: str) -> tuple[str, dict[str, int]]:
    """The current notices, cards and reports as files to open and print (outbox unchanged)."""
    folder = inside(get_settings().data_dir / "print", activation_id)
    with session_scope() as session:
        written = deliver_to_files(
            session=session, activation_id=activation_id, out_dir=folder, mark_sent=False
        )
    return str(folder), dict(written.notices)


@db_task("daily-report")
def daily_report(activation_id: str, locale: str = "zh-CN", plan_name: str = "flood") -> str | None:
    """The day's report (日报) once its time has come; None before."""
    with session_scope() as session:
        report = reporting.daily_report(
            session=session, activation_id=activation_id, plan=load_plan(plan_name), locale=locale
        )
        if report is None:
            return None
        said, report_id = run_log.report_line(report, new=True), report.id
    run_log.say(said)
    return report_id
