"""Step 1, 启动预案: open, continue (raise the level, widen the villages) and stand down an activation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.errors import (
    UnknownVillage,
)
from sanqing.models import (
    Activation,
    ActivationStatus,
    Cadre,
    CadreRole,
    Channel,
    DutyShift,
    Notice,
    NoticeStatus,
    Patrol,
    StartBasis,
    TimelineEvent,
    Town,
    utcnow,
)
from sanqing.plans import Level, Plan
from sanqing.response.locks import get_activation, lock_town, villages_of
from sanqing.response.timeline import clock, local_tz, log_event
from sanqing.warning import WarningInfo

_ID_UNSAFE = re.compile(r"[^0-9A-Za-z_.\-]+")


def activation_id_for(
    *, town_code: str, plan: str, warning: WarningInfo | None, now: datetime, drill: bool
) -> str:
    """The stable id of the activation a trigger belongs to.

    The same warning for the same town is always the same activation; a manual
    trigger without a warning is one activation per town, plan and local day.
    """
    if warning is not None:
        key = _ID_UNSAFE.sub("-", warning.identifier).strip("-")[:80]
    else:
        key = "manual-" + now.astimezone(local_tz()).strftime("%Y%m%d")
    prefix = "drill-" if drill else ""
    return f"{prefix}{plan}-{town_code}-{key}"


@dataclass(frozen=True)
class ActivationResult:
    activation_id: str
    level: str
    created: bool
    village_codes: list[str]
    #: False: this trigger belongs to a response that has ended (the same warning, run
    #: again after its stand-down): nothing was changed, and no step should run.
    open: bool = True
    stood_down_at: datetime | None = None
    #: Set when nothing was opened because the trigger's warning is no longer in force
    #: (cancelled, all-clear, superseded): why. ``activation_id`` is then empty.
    refused: str | None = None


def activate_plan(
    *,
    session: Session,
    town: Town,
    plan: Plan,
    level: Level,
    warning: WarningInfo | None,
    drill: bool,
    scenario: str | None = None,
    basis: StartBasis | None = None,
    now: datetime | None = None,
) -> ActivationResult:
    """Open (or continue) the town's activation, put the duty roster on, log who was alerted.

    ``basis`` (启动依据): a warning starts on the warning unless told otherwise; a
    manual start is the town's own assessment (镇防指会商研判) unless the county
    ordered it (县防指通知).

    Under the town lock, so two triggers at once give one activation. A town has at
    most one open activation per plan (drills apart): any trigger while it runs
    continues it. The same warning is always the same activation: run again after
    that activation was stood down, it changes nothing (``open`` is False). A manual
    start after a stand-down opens a new activation, even on the same day.
    """
    now = now or utcnow()
    lock_town(session, town.code)
    act_id = activation_id_for(
        town_code=town.code, plan=plan.plan, warning=warning, now=now, drill=drill
    )
    # A county-wide warning names villages of several towns: this town answers for its own.
    named = warning.village_codes if warning else []
    mine = [c for c in named if c.startswith(town.code)]
    if named and not mine:
        raise UnknownVillage(
            ", ".join(named), where=f"town {town.code}: the warning covers none of its villages"
        )
    villages = villages_of(session, town_code=town.code, only=mine)
    same = session.get(Activation, act_id, populate_existing=True)
    if warning is not None and (same is None or same.status == ActivationStatus.ACTIVE):
        # The warning may have joined another response (a manual start it confirmed, a
        # first warning it rode along with): that one ended is its end too.
        same = (
            _ended_with(session, town_code=town.code, plan=plan.plan, drill=drill, warning=warning)
            or same
        )
    if same is not None and same.status != ActivationStatus.ACTIVE and warning is not None:
        return ActivationResult(
            activation_id=same.id,
            level=same.level,
            created=False,
            village_codes=list(same.village_codes),
            open=False,
            stood_down_at=same.stood_down_at,
        )
    # One open activation per town and plan: a re-run after midnight, a manual start
    # followed by the feed's warning, or a second warning all continue it.
    existing = open_activation(session, town_code=town.code, plan=plan.plan, drill=drill)
    if existing is None and same is not None:
        act_id = _next_free_id(session, act_id)  # a manual start after the stand-down
    leaders = list(
        session.exec(
            select(Cadre)
            .where(Cadre.town_code == town.code, Cadre.role == CadreRole.TOWN_LEADER)
            .order_by(Cadre.code)
        )
    )
    commander = leaders[0].code if leaders else None
    if existing is None:
        trigger = "drill" if drill else ("warning" if warning else "manual")
        basis = basis or (StartBasis.WARNING if warning else StartBasis.TOWN_ASSESSMENT)
        upsert(
            session,
            Activation,
            [
                {
                    "id": act_id,
                    "town_code": town.code,
                    "plan": plan.plan,
                    "level": level.value,
                    "status": ActivationStatus.ACTIVE,
                    "drill": drill,
                    "trigger": trigger,
                    "basis": basis.value,
                    "warning_identifier": warning.identifier if warning else None,
                    "warning": warning.model_dump(mode="json") if warning else None,
                    "scenario": scenario,
                    "village_codes": [v.code for v in villages],
                    "commander_code": commander,
                    "activated_at": now,
                    "updated_at": now,
                    # a drill started at its scenario's time runs on that clock from here on
                    "clock_offset_s": (now - utcnow()).total_seconds() if drill else 0.0,
                }
            ],
        )
        what = warning.label_zh if warning else "人工启动"
        log_event(
            session,
            activation_id=act_id,
            key="activated",
            actor=town.office,
            action="启动应急响应",
            detail=f"{town.name}启动防汛{level.label_zh}应急响应（{what}，{basis.label_zh}）",
            at=now,
            simulated=drill,
        )
    else:
        act_id = existing.id
        _continue_activation(
            session,
            act=existing,
            town=town,
            level=level,
            warning=warning,
            village_codes=[v.code for v in villages],
            now=now,
        )
        villages = villages_of(session, town_code=town.code, only=existing.village_codes)
    shift_hours = plan.defaults.duty_shift_hours
    start = existing.activated_at if existing else now
    shifts = []
    for i, leader in enumerate(leaders[:2]):
        shifts.append(
            {
                "id": f"{act_id}:duty:{leader.code}",
                "activation_id": act_id,
                "cadre_code": leader.code,
                "village_code": None,
                "post": "带班领导" if i == 0 else "值班人员",
                "starts_at": start,
                "ends_at": start + timedelta(hours=shift_hours),
            }
        )
    village_codes = [v.code for v in villages]
    secretaries = session.exec(
        select(Cadre).where(
            col(Cadre.village_code).in_(village_codes), Cadre.role == CadreRole.FIRST_SECRETARY
        )
    )
    for sec in secretaries:
        shifts.append(
            {
                "id": f"{act_id}:duty:{sec.code}",
                "activation_id": act_id,
                "cadre_code": sec.code,
                "village_code": sec.village_code,
                "post": "村级值守",
                "starts_at": start,
                "ends_at": start + timedelta(hours=shift_hours),
            }
        )
    upsert(session, DutyShift, shifts)
    if existing is None:
        log_event(
            session,
            activation_id=act_id,
            key="duty",
            actor=town.office,
            action="启动24小时值班",
            detail=f"{len(shifts)}人上岗值守（镇{min(len(leaders), 2)}人、村{len(shifts) - min(len(leaders), 2)}人）",
            at=now,
            simulated=drill,
        )
    return ActivationResult(
        activation_id=act_id,
        level=level.value if existing is None else existing.level,
        created=existing is None,
        village_codes=village_codes,
    )


def _ended_with(
    session: Session, *, town_code: str, plan: str, drill: bool, warning: WarningInfo
) -> Activation | None:
    """The town's ended activation this warning started or joined, if any."""
    ended = list(
        session.exec(
            select(Activation).where(
                Activation.town_code == town_code,
                Activation.plan == plan,
                Activation.drill == drill,
                Activation.status == ActivationStatus.STOOD_DOWN,
            )
        )
    )
    started = [a for a in ended if a.warning_identifier == warning.identifier]
    if started:
        return started[0]
    joined = session.exec(
        select(TimelineEvent.activation_id).where(
            col(TimelineEvent.id).in_([f"{a.id}:warning:{warning.identifier}" for a in ended])
        )
    ).first()
    return session.get(Activation, joined) if joined else None


def _next_free_id(session: Session, base: str) -> str:
    """``base-2``, ``base-3`` …: the first id no activation has yet."""
    n = 2
    while session.get(Activation, f"{base}-{n}") is not None:
        n += 1
    return f"{base}-{n}"


def holds_resources(act: Activation) -> list[Any]:
    """Which activations' shelter places and machines ``act`` must respect.

    Only running ones. A real response ignores drills (a forgotten drill must
    never leave evacuees without places); a drill respects everything running.
    """
    conditions: list[Any] = [Activation.status == ActivationStatus.ACTIVE]
    if not act.drill:
        conditions.append(Activation.drill == False)  # noqa: E712 - SQL expression
    return conditions


def open_activation(
    session: Session, *, town_code: str, plan: str, drill: bool
) -> Activation | None:
    """The town's activation of this plan that is still running, if any (drills apart)."""
    return session.exec(
        select(Activation)
        .where(
            Activation.town_code == town_code,
            Activation.plan == plan,
            Activation.drill == drill,
            Activation.status == ActivationStatus.ACTIVE,
        )
        .order_by(col(Activation.activated_at).desc())
    ).first()


def _continue_activation(
    session: Session,
    *,
    act: Activation,
    town: Town,
    level: Level,
    warning: WarningInfo | None,
    village_codes: list[str],
    now: datetime,
) -> None:
    """A trigger for a running activation: widen its villages, raise (never lower) its level."""
    if warning is not None and warning.identifier != act.warning_identifier:
        log_event(
            session,
            activation_id=act.id,
            key=f"warning:{warning.identifier}",
            actor=town.office,
            action="收到预警",
            detail=f"{warning.label_zh}（{warning.identifier}）并入本次响应",
            at=now,
            simulated=act.drill,
        )
    if warning is not None and act.warning is None:
        # A manual start confirmed by a warning: from now on it answers to that warning.
        act.warning = warning.model_dump(mode="json")
        act.warning_identifier = warning.identifier
        act.updated_at = now
    merged = sorted(set(act.village_codes) | set(village_codes))
    if merged != sorted(act.village_codes):
        act.village_codes = merged
        act.updated_at = now
    old = Level(act.level)
    if level.rank > old.rank or (
        warning is not None and warning.identifier != act.warning_identifier
    ):
        _withdraw_stand_down(session, act=act, town=town, now=now)
    if level.rank > old.rank:
        act.level = level.value
        act.updated_at = now
        log_event(
            session,
            activation_id=act.id,
            key=f"level-{old.value}-to-{level.value}",
            actor=town.office,
            action="提升响应级别",
            detail=f"响应级别由{old.label_zh}提升为{level.label_zh}",
            at=now,
            simulated=act.drill,
        )
    elif level.rank < old.rank:
        # Lowering the level is a commander's decision (stand-down / downgrade), never a side
        # effect of re-running an older trigger.
        log_event(
            session,
            activation_id=act.id,
            key=f"keep-{old.value}-over-{level.value}",
            actor=town.office,
            action="维持响应级别",
            detail=f"收到{level.label_zh}启动请求，维持{old.label_zh}应急响应",
            at=now,
            simulated=act.drill,
        )
    session.add(act)


def _withdraw_stand_down(session: Session, *, act: Activation, town: Town, now: datetime) -> None:
    """A new warning or a higher level while the stand-down waits for the patrol: it no
    longer ends the response (an all-clear patrol must not end a response a red warning
    still needs); the gate opens again when the new warning ends."""
    patrol = session.get(Patrol, act.id)
    if patrol is None or not patrol.reason or act.status != ActivationStatus.ACTIVE:
        return
    was = patrol.reason
    patrol.reason, patrol.all_clear = "", None
    session.add(patrol)
    log_event(
        session,
        activation_id=act.id,
        key=f"stand-down-withdrawn:{now.isoformat()}",
        actor=town.office,
        action="撤回结束响应申请",
        detail=f"险情再起，响应继续；原申请：{was}",
        at=now,
        simulated=act.drill,
    )


def set_level(
    *, session: Session, activation_id: str, level: Level, reason: str, now: datetime | None = None
) -> bool:
    """Change a running activation's level on purpose (a downgrade); True when it changed."""
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    old = Level(act.level)
    if old == level or act.status != ActivationStatus.ACTIVE:
        return False
    act.level = level.value
    act.updated_at = now
    session.add(act)
    verb = "提升" if level.rank > old.rank else "降低"
    log_event(
        session,
        activation_id=activation_id,
        key=f"set-level-{old.value}-to-{level.value}:{now.isoformat()}",
        actor="镇应急办",
        action=f"{verb}响应级别",
        detail=f"响应级别由{old.label_zh}{verb}为{level.label_zh}：{reason}",
        at=now,
        simulated=act.drill,
    )
    return True


def stand_down(
    *, session: Session, activation_id: str, reason: str, now: datetime | None = None
) -> None:
    """End an activation: its shelter places and machines stop counting as taken.

    Under the town lock: a step of the same response that runs after it sees it ended
    and does nothing.
    """
    now = now or clock(session, activation_id)
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    if act.status == ActivationStatus.STOOD_DOWN:
        return
    act.status = ActivationStatus.STOOD_DOWN
    act.stood_down_at = now
    act.updated_at = now
    session.add(act)
    # An order still pending when the response ends must not go out afterwards (an
    # "evacuate now" after the all-clear); the reports upward still go. A drill's notices
    # are exercise material, delivered (or printed) after the drill ends.
    if not act.drill:
        session.execute(
            update(Notice)
            .where(
                col(Notice.activation_id) == activation_id,
                col(Notice.status) == NoticeStatus.PENDING,
                col(Notice.channel) != Channel.COUNTY,
            )
            .values(
                status=NoticeStatus.SUPERSEDED, last_error="response stood down before delivery"
            )
        )
    log_event(
        session,
        activation_id=activation_id,
        key="stood-down",
        actor="镇应急办",
        action="结束应急响应",
        detail=reason,
        at=now,
        simulated=act.drill,
    )
