"""Step 1 again: a trigger for a running activation widens it and raises (never lowers) it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from sanqing.models import Activation, ActivationStatus, Patrol, Town
from sanqing.plans import Level
from sanqing.response.timeline import log_event
from sanqing.warning import WarningInfo


def continue_activation(
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
    if warning is not None:
        _take_warning(session, act=act, town=town, warning=warning, now=now)
    merged = sorted(set(act.village_codes) | set(village_codes))
    if merged != sorted(act.village_codes):
        act.village_codes = merged
        act.updated_at = now
    old = Level(act.level)
    if level.rank > old.rank or (
        warning is not None and warning.identifier != act.warning_identifier
    ):
        _withdraw_stand_down(session, act=act, town=town, now=now)
    _raise_level(session, act=act, town=town, old=old, level=level, now=now)
    session.add(act)


def _take_warning(
    session: Session, *, act: Activation, town: Town, warning: WarningInfo, now: datetime
) -> None:
    """A warning joins the response (the timeline says so); a manual start takes it as its own."""
    if warning.identifier != act.warning_identifier:
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
    if act.warning is None:
        # A manual start confirmed by a warning: from now on it answers to that warning.
        act.warning = warning.model_dump(mode="json")
        act.warning_identifier = warning.identifier
        act.updated_at = now


def _raise_level(
    session: Session, *, act: Activation, town: Town, old: Level, level: Level, now: datetime
) -> None:
    """A higher level is taken; a lower one is noted and the level kept."""
    if level.rank > old.rank:
        act.level = level
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
