"""After the rain (雨后巡查): the stand-down request, the patrol's answer, and the end of the response."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from sanqing.answers import (
    PatrolAnswer,
)
from sanqing.errors import AnswerError
from sanqing.models import (
    Activation,
    ActivationStatus,
    HazardPoint,
    Inspection,
    InspectionPhase,
    InspectionStatus,
    Patrol,
    ReportKind,
)
from sanqing.plans import Plan
from sanqing.privacy import mask_text
from sanqing.response.inspection import inspect_hazards
from sanqing.response.locks import get_activation, lock_town
from sanqing.response.standdown import stand_down
from sanqing.response.timeline import clock, how_noted, log_event


def request_stand_down(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    reason: str,
    now: datetime | None = None,
    assign_checks: bool = True,
) -> bool:
    """Stand the activation down if its after-rain patrol allows; else open the patrol gate.

    Returns whether it is stood down now. A plan that does not require the patrol
    stands down at once. Otherwise the response waits for ``confirm_patrol`` with an
    all-clear (a drill's comes from its scenario): residents go home only when the
    hazard points are safe. Under the town lock, like every change of a response's state.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    if act.status == ActivationStatus.STOOD_DOWN:
        return True
    if not plan.defaults.after_rain_patrol_required:
        stand_down(session=session, activation_id=act.id, reason=reason, now=now)
        return True
    patrol = session.get(Patrol, act.id)
    if patrol is not None and patrol.reason and patrol.all_clear:
        stand_down(session=session, activation_id=act.id, reason=reason, now=now)
        return True
    if patrol is None or not patrol.reason:
        # The gate opens now: a patrol reported before it (during the rain, at another
        # level) does not count; the after-rain checks start from here.
        patrol = patrol or Patrol(id=act.id, activation_id=act.id, reason=reason)
        patrol.reason, patrol.requested_at, patrol.all_clear = reason, now, None
        session.add(patrol)
        if assign_checks:  # a drill's simulated patrol answers at once: no checklists
            _assign_after_rain_checks(session, act, plan, now)
        log_event(
            session,
            activation_id=act.id,
            key="patrol-requested",
            actor="镇应急办",
            action="待雨后巡查确认后结束响应",
            detail=f"{reason}；各隐患点雨后巡查确认安全前，转移群众不得返回",
            at=now,
        )
    return False


def _assign_after_rain_checks(session: Session, act: Activation, plan: Plan, now: datetime) -> None:
    """Every hazard point of the activation's villages gets an after-rain check to report."""
    for village_code in act.village_codes:
        inspect_hazards(
            session=session,
            activation_id=act.id,
            village_code=village_code,
            phase=InspectionPhase.AFTER,
            plan=plan,
            findings={},
            drill=False,
            now=now,
        )


def confirm_patrol(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    answer: PatrolAnswer,
    simulated: bool = False,
    now: datetime | None = None,
) -> bool:
    """Record the after-rain patrol; with an all-clear, a waiting stand-down happens now.

    Returns whether the activation is stood down. Dangers named in the answer keep it
    open and are recorded on the after-rain inspections of those points.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    if act.status == ActivationStatus.STOOD_DOWN:
        return True
    danger_codes = _named_dangers(session, act=act, answer=answer)
    patrol = session.get(Patrol, act.id)
    if patrol is None:  # reported before any stand-down was asked for: recorded, not counted
        patrol = Patrol(id=act.id, activation_id=act.id, reason="", requested_at=now)
    patrol.confirmed_at, patrol.confirmed_by = now, answer.name
    patrol.all_clear, patrol.remarks = answer.all_clear, mask_text(answer.remarks)
    patrol.simulated = simulated
    session.add(patrol)
    session.flush()
    _mark_after_rain_checks(
        session,
        act=act,
        danger_codes=danger_codes,
        finding=patrol.remarks or "雨后巡查仍有险情",
        all_clear=answer.all_clear,
        simulated=simulated,
        now=now,
    )
    log_event(
        session,
        activation_id=act.id,
        key=f"patrol:{now.isoformat()}",
        actor=answer.name,
        action="雨后巡查确认安全" if answer.all_clear else "雨后巡查仍有险情",
        detail=(
            (patrol.remarks or "")
            + (f"；险情点{len(danger_codes)}处" if danger_codes else "")
            + how_noted(simulated)
        ).strip("；"),
        at=now,
        simulated=simulated,
    )
    if answer.all_clear and patrol.reason:
        stand_down(session=session, activation_id=act.id, reason=patrol.reason, now=now)
        return True
    return False


def _named_dangers(session: Session, *, act: Activation, answer: PatrolAnswer) -> set[str]:
    """The codes of the points the answer names as dangerous; AnswerError if it does not fit."""
    codes = dict(
        session.exec(
            select(HazardPoint.name, HazardPoint.code).where(
                col(HazardPoint.village_code).in_(act.village_codes)
            )
        ).all()
    )
    known = set(codes.values())
    bad = [
        f"仍有险情的隐患点第{i + 1}项：「{d}」不是本次响应的隐患点（填名称或编号）"
        for i, d in enumerate(answer.dangers)
        if d not in known and d not in codes
    ]
    if answer.all_clear and answer.dangers:
        bad.append("勾选了“巡查确认安全”，又列出了仍有险情的隐患点：请只选其一")
    if bad:
        raise AnswerError(bad)
    return {codes.get(d, d) for d in answer.dangers}


def _mark_after_rain_checks(
    session: Session,
    *,
    act: Activation,
    danger_codes: set[str],
    finding: str,
    all_clear: bool,
    simulated: bool,
    now: datetime,
) -> None:
    """The after-rain checks take the patrol's word: its dangers, else ok on an all-clear."""
    for insp in session.exec(
        select(Inspection).where(
            Inspection.activation_id == act.id, Inspection.phase == InspectionPhase.AFTER
        )
    ):
        if insp.hazard_code in danger_codes:
            insp.status, insp.finding = InspectionStatus.DANGER, finding
        elif insp.status == InspectionStatus.ASSIGNED:
            insp.status = InspectionStatus.OK if all_clear else insp.status
        else:
            continue
        insp.inspected_at, insp.simulated = now, simulated
        session.add(insp)


def patrol_state(session: Session, activation_id: str) -> dict[str, object]:
    patrol = session.get(Patrol, activation_id)
    if patrol is None:
        return {"requested": False, "all_clear": None, "confirmed_by": None}
    return {
        "requested": bool(patrol.reason),
        "all_clear": patrol.all_clear,
        "confirmed_by": patrol.confirmed_by or None,
    }


def _final_report(
    session: Session, activation_id: str, plan: Plan, locale: str, now: datetime
) -> None:
    from sanqing import reporting  # reporting builds on response, as this module does

    reporting.write_report(
        session=session,
        activation_id=activation_id,
        plan=plan,
        kind=ReportKind.FINAL,
        locale=locale,
        now=now,
    )


def record_patrol(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    answer: PatrolAnswer,
    locale: str,
    now: datetime | None = None,
) -> bool:
    """The patrol's answer from the control room or the command line; 终报 when it ends."""
    now = now or clock(session, activation_id)
    done = confirm_patrol(session, activation_id=activation_id, plan=plan, answer=answer, now=now)
    if done:
        _final_report(session, activation_id, plan, locale, now)
    return done


def end_response(
    session: Session,
    *,
    activation_id: str,
    plan: Plan,
    reason: str,
    locale: str,
    simulated_patrol: PatrolAnswer | None = None,
    now: datetime | None = None,
) -> bool:
    """Ask to stand down (a drill's patrol answers at once); the final report when it ends."""
    now = now or clock(session, activation_id)
    done = request_stand_down(
        session,
        activation_id=activation_id,
        plan=plan,
        reason=reason,
        now=now,
        assign_checks=simulated_patrol is None,
    )
    if not done and simulated_patrol is not None:
        done = confirm_patrol(
            session,
            activation_id=activation_id,
            plan=plan,
            answer=simulated_patrol,
            simulated=True,
            now=now,
        )
    if done:
        _final_report(session, activation_id, plan, locale, now)
    return done
