"""Step 1, 启动预案: open an activation, or continue the one running, for a trigger.

What a continued activation changes is ``continuation``; the duty roster is ``duty``;
lowering the level and the stand-down are ``standdown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from sanqing.db import upsert
from sanqing.errors import (
    UnknownVillage,
)
from sanqing.models import (
    Activation,
    ActivationStatus,
    StartBasis,
    TimelineEvent,
    Town,
    utcnow,
)
from sanqing.plans import Level, Plan
from sanqing.response.continuation import continue_activation
from sanqing.response.duty import log_duty, put_on_duty, town_leaders
from sanqing.response.locks import lock_town, villages_of
from sanqing.response.timeline import local_tz, log_event
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
    trigger = _Trigger(town, plan, level, warning, drill, now)
    village_codes = _villages_named(session, trigger)
    same = _same_activation(session, act_id, trigger)
    if same is not None and same.status != ActivationStatus.ACTIVE and warning is not None:
        return _ended_result(same)
    # One open activation per town and plan: a re-run after midnight, a manual start
    # followed by the feed's warning, or a second warning all continue it.
    existing = open_activation(session, town_code=town.code, plan=plan.plan, drill=drill)
    if existing is not None:
        return _continue(session, existing, trigger, village_codes=village_codes)
    if same is not None:
        act_id = _next_free_id(session, act_id)  # a manual start after the stand-down
    basis = basis or (StartBasis.WARNING if warning else StartBasis.TOWN_ASSESSMENT)
    return _open(
        session, act_id, trigger, scenario=scenario, basis=basis, village_codes=village_codes
    )


@dataclass(frozen=True)
class _Trigger:
    """What this run of step 1 was started with."""

    town: Town
    plan: Plan
    level: Level
    warning: WarningInfo | None
    drill: bool
    now: datetime


def _villages_named(session: Session, trigger: _Trigger) -> list[str]:
    """The codes of the town's villages the warning names (all of them without a warning)."""
    town, warning = trigger.town, trigger.warning
    # A county-wide warning names villages of several towns: this town answers for its own.
    named = warning.village_codes if warning else []
    mine = [c for c in named if c.startswith(town.code)]
    if named and not mine:
        raise UnknownVillage(
            ", ".join(named), where=f"town {town.code}: the warning covers none of its villages"
        )
    return [v.code for v in villages_of(session, town_code=town.code, only=mine)]


def _same_activation(session: Session, act_id: str, trigger: _Trigger) -> Activation | None:
    """The activation this trigger already is (by id, or the ended one its warning joined)."""
    same = session.get(Activation, act_id, populate_existing=True)
    warning = trigger.warning
    if warning is not None and (same is None or same.status == ActivationStatus.ACTIVE):
        # The warning may have joined another response (a manual start it confirmed, a
        # first warning it rode along with): that one ended is its end too.
        joined = _ended_with(
            session,
            town_code=trigger.town.code,
            plan=trigger.plan.plan,
            drill=trigger.drill,
            warning=warning,
        )
        same = joined or same
    return same


def _ended_result(act: Activation) -> ActivationResult:
    """The trigger belongs to a response that has ended: nothing changes, no step runs."""
    return ActivationResult(
        activation_id=act.id,
        level=act.level,
        created=False,
        village_codes=list(act.village_codes),
        open=False,
        stood_down_at=act.stood_down_at,
    )


def _open(
    session: Session,
    act_id: str,
    trigger: _Trigger,
    *,
    scenario: str | None,
    basis: StartBasis,
    village_codes: list[str],
) -> ActivationResult:
    """A new activation: its row, the timeline's start, the duty roster from now."""
    town, now = trigger.town, trigger.now
    leaders = town_leaders(session, town.code)
    commander = leaders[0].code if leaders else None
    row = _activation_row(act_id, trigger, scenario, basis, village_codes, commander)
    upsert(session, Activation, [row])
    what = trigger.warning.label_zh if trigger.warning else "人工启动"
    log_event(
        session,
        activation_id=act_id,
        key="activated",
        actor=town.office,
        action="启动应急响应",
        detail=f"{town.name}启动防汛{trigger.level.label_zh}应急响应（{what}，{basis.label_zh}）",
        at=now,
        simulated=trigger.drill,
    )
    shifts = put_on_duty(
        session,
        activation_id=act_id,
        leaders=leaders,
        village_codes=village_codes,
        start=now,
        hours=trigger.plan.defaults.duty_shift_hours,
    )
    log_duty(
        session,
        activation_id=act_id,
        town=town,
        shifts=shifts,
        leaders=leaders,
        at=now,
        simulated=trigger.drill,
    )
    return ActivationResult(
        activation_id=act_id, level=trigger.level.value, created=True, village_codes=village_codes
    )


def _activation_row(
    act_id: str,
    trigger: _Trigger,
    scenario: str | None,
    basis: StartBasis,
    village_codes: list[str],
    commander: str | None,
) -> dict[str, Any]:
    """The new activation's row: what started it, on what basis, for which villages."""
    warning, drill, now = trigger.warning, trigger.drill, trigger.now
    return {
        "id": act_id,
        "town_code": trigger.town.code,
        "plan": trigger.plan.plan,
        "level": trigger.level.value,
        "status": ActivationStatus.ACTIVE,
        "drill": drill,
        "trigger": "drill" if drill else ("warning" if warning else "manual"),
        "basis": basis.value,
        "warning_identifier": warning.identifier if warning else None,
        "warning": warning.model_dump(mode="json") if warning else None,
        "scenario": scenario,
        "village_codes": village_codes,
        "commander_code": commander,
        "activated_at": now,
        "updated_at": now,
        # a drill started at its scenario's time runs on that clock from here on
        "clock_offset_s": (now - utcnow()).total_seconds() if drill else 0.0,
    }


def _continue(
    session: Session, act: Activation, trigger: _Trigger, *, village_codes: list[str]
) -> ActivationResult:
    """The running activation takes the trigger; its duty roster covers every village now."""
    town = trigger.town
    leaders = town_leaders(session, town.code)
    continue_activation(
        session,
        act=act,
        town=town,
        level=trigger.level,
        warning=trigger.warning,
        village_codes=village_codes,
        now=trigger.now,
    )
    codes = [v.code for v in villages_of(session, town_code=town.code, only=act.village_codes)]
    put_on_duty(
        session,
        activation_id=act.id,
        leaders=leaders,
        village_codes=codes,
        start=act.activated_at,
        hours=trigger.plan.defaults.duty_shift_hours,
    )
    return ActivationResult(
        activation_id=act.id, level=act.level, created=False, village_codes=codes
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
