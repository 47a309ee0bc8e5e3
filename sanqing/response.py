"""The five steps of the flood plan as domain functions over the database.

Each function takes keyword arguments and a session, works on one activation
(and one village where the plan fans out), and is idempotent: it derives row ids
from the activation and the subject and writes with upserts, so running it
again changes nothing. Prefect tasks in ``tasks/`` wrap these functions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select as select_rows
from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, select

from sanqing.db import upsert
from sanqing.errors import (
    FieldReportError,
    HazardNotFound,
    RoadNotFound,
    SanqingError,
    UnknownActivation,
    UnknownVillage,
)
from sanqing.models import (
    Activation,
    ActivationStatus,
    Cadre,
    CadreRole,
    Channel,
    DutyShift,
    Grid,
    HazardPoint,
    HazardThreat,
    Household,
    Inspection,
    InspectionPhase,
    InspectionStatus,
    Machine,
    Notice,
    NoticeStatus,
    Patrol,
    Relocation,
    RelocationStatus,
    RiskLevel,
    RoadIncident,
    RoadSegment,
    RoadStatus,
    Shelter,
    StartBasis,
    TimelineEvent,
    Town,
    Village,
    utcnow,
)
from sanqing.plans import Level, Plan
from sanqing.privacy import mask_text
from sanqing.rules import relocation as rules
from sanqing.rules.roads import BlockedRoad, FreeMachine, dispatch, machine_preference
from sanqing.rules.shelters import Mover, ShelterRoom, assign_shelters
from sanqing.scenarios import FindingInput, RoadReport
from sanqing.settings import get_settings
from sanqing.warning import WarningInfo

#: Relocations that hold a place in their shelter.
#: Statuses that hold a shelter place (投亲靠友 frees it; 带离 takes the household to one).
OCCUPYING = (
    RelocationStatus.ORDERED,
    RelocationStatus.MOVED,
    RelocationStatus.IN_SHELTER,
    RelocationStatus.REMOVED,
)
_ID_UNSAFE = re.compile(r"[^0-9A-Za-z_.\-]+")


def check_field_reports(
    session: Session,
    *,
    town_code: str,
    findings: Sequence[FindingInput],
    roads: Sequence[RoadReport],
) -> None:
    """Refuse every unknown hazard point or road at once, before anything is changed."""
    hazards = session.exec(
        select(HazardPoint.code, HazardPoint.name)
        .join(Village, col(Village.code) == col(HazardPoint.village_code))
        .where(Village.town_code == town_code)
    ).all()
    hazard_keys = {c for c, _ in hazards} | {n for _, n in hazards}
    segments = session.exec(
        select(RoadSegment.code, RoadSegment.name).where(RoadSegment.town_code == town_code)
    ).all()
    road_keys = {c for c, _ in segments} | {n for _, n in segments}
    problems = [
        f"findings[{i}]: hazard point {f.hazard!r} is not in town {town_code}"
        for i, f in enumerate(findings)
        if f.hazard not in hazard_keys
    ] + [
        f"roads[{i}]: road segment {r.road!r} is not in town {town_code}"
        for i, r in enumerate(roads)
        if r.road not in road_keys
    ]
    if problems:
        raise FieldReportError(
            "field reports name unknown places (use a code or the exact name from "
            "hazard_points.csv / roads.csv); nothing was started:\n  " + "\n  ".join(problems)
        )


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
        key = "manual-" + now.astimezone(_local_tz()).strftime("%Y%m%d")
    prefix = "drill-" if drill else ""
    return f"{prefix}{plan}-{town_code}-{key}"


def _local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def log_event(
    session: Session,
    *,
    activation_id: str,
    key: str,
    actor: str,
    action: str,
    detail: str = "",
    at: datetime | None = None,
    simulated: bool = False,
) -> None:
    """Add a timeline event once (its id is derived from the activation and ``key``)."""
    upsert(
        session,
        TimelineEvent,
        [
            {
                "id": f"{activation_id}:{key}",
                "activation_id": activation_id,
                "at": at or clock(session, activation_id),
                "actor": actor,
                "action": action,
                "detail": detail,
                "simulated": simulated,
            }
        ],
    )


def read_rows(
    session: Session, model: type[SQLModel], *where: Any, order_by: Any = ()
) -> list[Any]:
    """The rows of a table as read-only named tuples (``row.code``), without ORM objects.

    For the thousands of households, relocations and notices of a town that a step
    only reads: building ORM instances for them cost more than the step's own work.
    """
    stmt = select_rows(model.__table__).where(*where)  # type: ignore[attr-defined]
    if order_by != ():
        stmt = stmt.order_by(*(order_by if isinstance(order_by, tuple) else (order_by,)))
    return list(session.execute(stmt))


def clock(session: Session, activation_id: str) -> datetime:
    """The activation's time now: the wall clock, or a drill's own clock.

    A drill runs on the time of its scenario (its warning's time and the steps of
    its script, see ``advance_clock``); everything else on the wall clock.
    """
    act = session.get(Activation, activation_id)
    offset = act.clock_offset_s if act is not None else 0.0
    return utcnow() + timedelta(seconds=offset) if offset else utcnow()


def advance_clock(session: Session, activation_id: str, minutes: float) -> datetime:
    """Move a drill's clock on by ``minutes`` (its script's time between two steps)."""
    act = session.get(Activation, activation_id)
    if act is None or not act.drill:
        raise SanqingError(f"{activation_id}: only a drill's clock can be moved on")
    act.clock_offset_s += minutes * 60
    session.add(act)
    session.flush()
    return clock(session, activation_id)


def lock_town(session: Session, town_code: str) -> None:
    """Hold the town until this transaction ends: one response, one allocator at a time.

    Opening, continuing and standing down a town's response, and every allocation of
    its shelter places, machinery and reports, happen under this lock. Two runs for
    one town (two warnings, a coordinator starting the plan twice, a stand-down
    arriving mid-run) then never open two responses, give the last shelter places or
    the same excavator twice, or write for a response that has just ended. A no-op
    UPDATE of the town row takes a row lock on PostgreSQL and the write lock on
    SQLite, so the reads that follow see everything committed before, and the next
    holder waits for this transaction to commit. Call it before reading what it guards.
    """
    session.execute(update(Town).where(col(Town.code) == town_code).values(key=Town.key))


def hold_open(session: Session, activation_id: str) -> Activation | None:
    """The activation, held against a stand-down until this transaction ends; None if it ended.

    For the per-village steps, which may run side by side: PostgreSQL takes a share
    lock on the activation row (a stand-down, which updates the row, waits for the
    steps holding it, and the steps that come after it see it ended); SQLite takes
    its database write lock. Call it before reading what the step decides on.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select_rows(col(Activation.id))
            .where(col(Activation.id) == activation_id)
            .with_for_update(read=True)
        )
    else:
        # A non-key column: rewriting the key would make SQLite check every child row.
        session.execute(
            update(Activation)
            .where(col(Activation.id) == activation_id)
            .values(updated_at=Activation.updated_at)
        )
    act = session.get(Activation, activation_id, populate_existing=True)
    if act is None:
        raise UnknownActivation(activation_id)
    return act if act.status == ActivationStatus.ACTIVE else None


def hold_town_open(session: Session, activation_id: str) -> Activation | None:
    """The activation under its town's lock (see ``lock_town``); None if it has ended."""
    act = get_activation(session, activation_id)
    lock_town(session, act.town_code)
    session.refresh(act)
    return act if act.status == ActivationStatus.ACTIVE else None


def lock_village(session: Session, village_code: str) -> None:
    """Hold the village until this transaction ends: two runs never write its lists at once."""
    session.execute(
        update(Village).where(col(Village.code) == village_code).values(name=Village.name)
    )


def get_activation(session: Session, activation_id: str) -> Activation:
    act = session.get(Activation, activation_id)
    if act is None:
        raise UnknownActivation(activation_id)
    return act


def villages_of(session: Session, *, town_code: str, only: Sequence[str] = ()) -> list[Village]:
    """The town's villages (all, or those named by code), sorted by code."""
    rows = list(
        session.exec(select(Village).where(Village.town_code == town_code).order_by(Village.code))
    )
    if not only:
        return rows
    by_code = {v.code: v for v in rows}
    missing = [c for c in only if c not in by_code]
    if missing:
        raise UnknownVillage(", ".join(missing), where=f"town {town_code}")
    return [by_code[c] for c in sorted(set(only))]


#: Villages a town's step fans out to at most: a big town's villages go in groups so a
#: county run does not pay Prefect's cost of a task run per village and step.
MAX_VILLAGE_TASKS = 6


def village_groups(villages: Sequence[str], max_tasks: int = MAX_VILLAGE_TASKS) -> list[list[str]]:
    """Villages in contiguous groups, at most ``max_tasks`` of them (one village each if few)."""
    if not villages:
        return []
    size = -(-len(villages) // max(1, max_tasks))
    return [list(villages[i : i + size]) for i in range(0, len(villages), size)]


# --- step 1: activate the plan --------------------------------------------------------------


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


# --- step 2: inspect hazards ----------------------------------------------------------------


def resolve_findings(
    session: Session, *, town_code: str, findings: Sequence[FindingInput]
) -> dict[str, FindingInput]:
    """Map findings to hazard codes (a finding may name the point); unknown names are errors."""
    if not findings:
        return {}
    rows = session.exec(
        select(HazardPoint.code, HazardPoint.name)
        .join(Village, col(Village.code) == col(HazardPoint.village_code))
        .where(Village.town_code == town_code)
    ).all()
    by_code = {code: code for code, _ in rows}
    by_name = {name: code for code, name in rows}
    out: dict[str, FindingInput] = {}
    for i, f in enumerate(findings):
        code = by_code.get(f.hazard) or by_name.get(f.hazard)
        if code is None:
            raise HazardNotFound(
                f"findings[{i}]: hazard point {f.hazard!r} is not in town {town_code}; "
                "use a code or the exact name from hazard_points.csv"
            )
        out[code] = f
    return out


@dataclass(frozen=True)
class InspectionResult:
    village_code: str
    inspected: int
    dangerous: int
    watch: int
    pending: int
    closed: bool = False  # the activation had ended: the step did nothing


def inspect_hazards(
    *,
    session: Session,
    activation_id: str,
    village_code: str,
    phase: InspectionPhase,
    plan: Plan,
    findings: Mapping[str, FindingInput],
    drill: bool,
    now: datetime | None = None,
) -> InspectionResult:
    """Put every hazard point of the village on the checklist and record the findings.

    Points without a finding stay ``assigned`` to their monitor, except in a
    drill, where they are marked ``ok`` (simulated) so the drill runs unattended.
    A finding never downgrades a recorded danger.
    """
    now = now or clock(session, activation_id)
    if hold_open(session, activation_id) is None:
        return InspectionResult(village_code, 0, 0, 0, 0, closed=True)
    hazards = list(
        session.exec(
            select(HazardPoint)
            .where(HazardPoint.village_code == village_code)
            .order_by(HazardPoint.code)
        )
    )
    existing = {
        i.hazard_code: i
        for i in session.exec(
            select(Inspection).where(
                Inspection.activation_id == activation_id,
                Inspection.village_code == village_code,
                Inspection.phase == phase,
            )
        )
    }
    rows = []
    for hz in hazards:
        f = findings.get(hz.code)
        old = existing.get(hz.code)
        if f is not None:
            status, note, simulated = f.status, f.note, False
        elif drill:
            status, note, simulated = InspectionStatus.OK, "未见异常（演练模拟）", True
        else:
            status, note, simulated = InspectionStatus.ASSIGNED, "", False
        if old is not None and (
            old.status == InspectionStatus.DANGER or status == InspectionStatus.ASSIGNED
        ):
            continue  # keep what the field already reported
        if old is not None and old.status == status and old.finding == mask_text(note):
            continue
        rows.append(
            {
                "id": f"{activation_id}:{hz.code}:{phase.value}",
                "activation_id": activation_id,
                "village_code": village_code,
                "hazard_code": hz.code,
                "phase": phase.value,
                "status": status.value,
                "finding": mask_text(note),  # field notes may quote a phone: never keep it
                "checklist": plan.checklists.get(hz.kind, []),  # type: ignore[call-overload]
                "inspector_code": hz.monitor_cadre_code,
                "simulated": simulated,
                "inspected_at": None if status == InspectionStatus.ASSIGNED else now,
            }
        )
    upsert(
        session,
        Inspection,
        rows,
        update=["status", "finding", "simulated", "inspected_at"],
    )
    names = {hz.code: hz.name for hz in hazards}
    for r in rows:
        if r["status"] in (InspectionStatus.DANGER, InspectionStatus.CANNOT_JUDGE):
            log_event(
                session,
                activation_id=activation_id,
                key=f"danger:{r['hazard_code']}",
                actor=r["inspector_code"] or "监测员",
                action="发现险情" if r["status"] == InspectionStatus.DANGER else "险情不能研判",
                detail=f"{names[r['hazard_code']]}：{r['finding']}",
                at=now,
                simulated=drill,
            )
    session.flush()
    recorded = list(
        session.exec(
            select(Inspection.status).where(
                Inspection.activation_id == activation_id,
                Inspection.village_code == village_code,
                Inspection.phase == phase,
            )
        )
    )
    return InspectionResult(
        village_code=village_code,
        inspected=sum(1 for s in recorded if s != InspectionStatus.ASSIGNED),
        dangerous=sum(1 for s in recorded if s == InspectionStatus.DANGER),
        watch=sum(1 for s in recorded if s == InspectionStatus.WATCH),
        pending=sum(1 for s in recorded if s == InspectionStatus.ASSIGNED),
    )


# --- step 3: relocate residents -------------------------------------------------------------


@dataclass(frozen=True)
class VillageRelocationResult:
    village_code: str
    households: int
    people: int
    vulnerable_households: int
    closed: bool = False  # the activation had ended: the step did nothing


def plan_relocations(
    *,
    session: Session,
    activation_id: str,
    village_code: str,
    plan: Plan,
    urgent_only: bool = False,
    now: datetime | None = None,
) -> VillageRelocationResult:
    """Decide who in the village moves, in what order and with which cadre; record it.

    With ``urgent_only``, only the households that move at once whatever the
    approval (三个紧急撤离: danger found, a point that cannot be judged, danger zones
    at night; the plan's ``approval.bypass``): the run orders them before it asks
    the commander. Nothing when the activation has ended (``closed``); the village is
    held while it decides, so two runs for the town never decide it at once.
    """
    now = now or clock(session, activation_id)
    held = hold_open(session, activation_id)
    if held is None:
        return VillageRelocationResult(village_code, 0, 0, 0, closed=True)
    act = held
    lock_village(session, village_code)
    scope = plan.level(act.level).relocate
    households = read_rows(
        session, Household, Household.village_code == village_code, order_by=Household.code
    )
    hazards = {
        h.code: h
        for h in session.exec(select(HazardPoint).where(HazardPoint.village_code == village_code))
    }
    threats = list(
        session.exec(
            select(HazardThreat)
            .join(Household, col(Household.code) == col(HazardThreat.household_code))
            .where(Household.village_code == village_code)
        )
    )
    # A household of this village may be threatened by a point registered in a neighbour.
    foreign = {t.hazard_code for t in threats} - set(hazards)
    if foreign:
        for h in session.exec(select(HazardPoint).where(col(HazardPoint.code).in_(foreign))):
            hazards[h.code] = h
    findings: dict[str, str] = {}
    for code, status in session.exec(
        select(Inspection.hazard_code, Inspection.status).where(
            Inspection.activation_id == activation_id,
            col(Inspection.hazard_code).in_(list(hazards)),
        )
    ):
        if status == InspectionStatus.DANGER or code not in findings:
            findings[code] = status
    candidates = rules.select_households(
        households=households, threats=threats, hazards=hazards, scope=scope, findings=findings
    )
    night = plan.defaults.is_night(now.astimezone(_local_tz()).time())
    bypass = plan.level(act.level).approval.bypass
    urgent = {
        c.household.code for c in candidates if rules.is_urgent(c, bypass=bypass, night=night)
    }
    # a danger found later makes an order already given urgent; the night alone does not
    # (a rerun at night must not rewrite how the day's approved orders were given)
    found = {c.household.code for c in candidates if rules.is_urgent(c, bypass=bypass, night=False)}
    if urgent_only:
        candidates = [c for c in candidates if c.household.code in urgent]
    existing = {
        r.household_code: r
        for r in read_rows(
            session,
            Relocation,
            Relocation.activation_id == activation_id,
            Relocation.village_code == village_code,
        )
    }
    cadres = list(session.exec(select(Cadre).where(Cadre.village_code == village_code)))
    if not cadres and candidates:
        # Nobody registered in the village: the town's leaders take the door visits.
        cadres = list(
            session.exec(
                select(Cadre).where(
                    Cadre.town_code == act.town_code, Cadre.role == CadreRole.TOWN_LEADER
                )
            )
        )
        log_event(
            session,
            activation_id=activation_id,
            key=f"no-village-cadre:{village_code}",
            actor="镇应急办",
            action="村无在册干部",
            detail=f"{village_code}无在册村干部，转移叫应由镇包片领导负责",
            at=now,
            simulated=act.drill,
        )
    grids = {
        g.code: g.responsible_cadre_code
        for g in session.exec(select(Grid).where(Grid.village_code == village_code))
    }
    new = [c for c in candidates if c.household.code not in existing]
    load: dict[str, int] = defaultdict(int)
    for r in existing.values():
        if r.cadre_code:
            load[r.cadre_code] += 1
    assignments = rules.assign_cadres(
        ordered=new,
        cadres=cadres,
        grid_responsible=grids,
        max_per_cadre=plan.defaults.max_households_per_cadre,
        existing_load=load,
    )
    rows = []
    for rank, cand in enumerate(candidates, start=1):
        hh = cand.household
        base = {
            "id": f"{activation_id}:{hh.code}",
            "priority": rank,
            "zone": cand.zone.value,
            "hazard_codes": list(cand.hazard_codes),
            "reasons": list(cand.reasons),
            "vulnerabilities": list(cand.vulnerabilities),
            "max_risk": cand.max_risk.value if cand.max_risk else None,
        }
        if hh.code in existing:
            old = existing[hh.code]
            base["urgent"] = old.urgent or hh.code in found
            if all(getattr(old, k) == v for k, v in base.items()):
                continue
            rows.append(
                base
                | {
                    "activation_id": activation_id,
                    "village_code": village_code,
                    "household_code": hh.code,
                    "people": hh.members,
                    "ordered_at": old.ordered_at,
                    "updated_at": now,
                }
            )
            continue
        a = assignments[hh.code]
        rows.append(
            base
            | {
                "activation_id": activation_id,
                "village_code": village_code,
                "household_code": hh.code,
                "people": hh.members,
                "cadre_code": a.cadre_code,
                "original_cadre_code": a.original_cadre_code,
                "shelter_code": None,
                "shortfall": False,
                "status": RelocationStatus.ORDERED.value,
                "urgent": hh.code in urgent,  # moved at once, without waiting for approval
                "ordered_at": now,
                "updated_at": now,
            }
        )
    # Re-runs only refresh the derived fields; status, cadre and shelter stay as recorded.
    upsert(
        session,
        Relocation,
        rows,
        update=[
            "priority",
            "zone",
            "hazard_codes",
            "reasons",
            "vulnerabilities",
            "max_risk",
            "urgent",
            "updated_at",
        ],
    )
    if new:
        log_event(
            session,
            activation_id=activation_id,
            key=f"relocation-ordered:{village_code}:{len(existing) + len(new)}",
            actor=village_code,
            action="紧急撤离（不等审批）" if urgent_only else "下达转移指令",
            detail=f"新增转移{len(new)}户{sum(c.household.members for c in new)}人",
            at=now,
            simulated=act.drill,
        )
    return VillageRelocationResult(
        village_code=village_code,
        households=len(candidates),
        people=sum(c.household.members for c in candidates),
        vulnerable_households=sum(1 for c in candidates if c.vulnerabilities),
    )


@dataclass(frozen=True)
class ShelterResult:
    placed_households: int
    shortfall_households: int
    shortfall_people: int
    shelters_used: int
    closed: bool = False  # the activation had ended: the step did nothing
    # villages whose households got (or lost) a place in this call: their lists are due again
    changed_villages: tuple[str, ...] = field(default=(), compare=False)


def assign_town_shelters(
    *, session: Session, activation_id: str, plan: Plan, now: datetime | None = None
) -> ShelterResult:
    """Place every relocated household of the activation that has no shelter yet.

    Runs once per town after all villages have decided, in the town-wide
    priority order, so villages never race for the same places. Places already
    taken (by this or any other active response) count against capacity.
    """
    now = now or clock(session, activation_id)
    held = hold_town_open(session, activation_id)
    if held is None:  # ended: its households go home, nobody is placed any more
        return ShelterResult(0, 0, 0, 0, closed=True)
    act = held
    shelters = list(session.exec(select(Shelter).where(Shelter.town_code == act.town_code)))
    occupied: dict[str, int] = defaultdict(int)
    for code, people in session.exec(
        select(Relocation.shelter_code, Relocation.people)
        .join(Activation, col(Activation.id) == col(Relocation.activation_id))
        .where(
            col(Relocation.shelter_code).in_([s.code for s in shelters]),
            col(Relocation.status).in_(list(OCCUPYING)),
            *holds_resources(act),
        )
    ):
        if code is not None:
            occupied[code] += people
    rooms = [
        ShelterRoom(s.code, s.lat, s.lon, s.capacity, occupied.get(s.code, 0)) for s in shelters
    ]
    # Plain columns, not ORM objects: a county-sized town has thousands of relocations.
    waiting: list[Any] = list(
        session.execute(
            select_rows(
                col(Relocation.household_code),
                col(Relocation.people),
                col(Relocation.zone),
                col(Relocation.vulnerabilities),
                col(Relocation.village_code),
                col(Relocation.priority),
                col(Relocation.max_risk),
                col(Relocation.shelter_code),
                col(Relocation.shortfall),
                col(Relocation.id),
                col(Household.lat),
                col(Household.lon),
            )
            .join(Household, col(Household.code) == col(Relocation.household_code))
            .where(
                col(Relocation.activation_id) == activation_id,
                col(Relocation.shelter_code).is_(None),
                col(Relocation.status).in_(list(OCCUPYING)),
            )
        )
    )
    zone_rank = {"danger": 0, "alert": 1}

    def urgency(r: Any) -> tuple[int, int, int, str]:
        # The same order as inside a village (Candidate.sort_key), across the town.
        vuln = rules.VULNERABILITIES.index(r.vulnerabilities[0]) if r.vulnerabilities else 99
        risk = -(RiskLevel(r.max_risk).rank if r.max_risk else -1)
        return (zone_rank.get(r.zone, 2), vuln, risk, r.household_code)

    waiting.sort(key=urgency)
    placements = assign_shelters(
        movers=[Mover(r.household_code, r.people, r.lat, r.lon) for r in waiting],
        shelters=rooms,
        max_distance_km=plan.defaults.max_shelter_distance_km,
    )
    by_hh = {r.household_code: r for r in waiting}
    changes = []
    changed_villages: set[str] = set()
    for p in placements:
        r = by_hh[p.household_code]
        shortfall = p.shelter_code is None
        if r.shelter_code == p.shelter_code and r.shortfall == shortfall:
            continue
        changed_villages.add(r.village_code)
        changes.append(
            {"id": r.id, "shelter_code": p.shelter_code, "shortfall": shortfall, "updated_at": now}
        )
    if changes:
        session.execute(update(Relocation), changes)  # one UPDATE, many rows (by primary key)
    all_rel: list[Any] = list(
        session.exec(
            select(
                Relocation.shelter_code, Relocation.shortfall, Relocation.status, Relocation.people
            ).where(Relocation.activation_id == activation_id)
        )
    )
    short = [r for r in all_rel if r.shortfall and r.status in OCCUPYING]
    if short:
        log_event(
            session,
            activation_id=activation_id,
            key=f"shortfall:{len(short)}:{sum(r.people for r in short)}",
            actor="镇应急办",
            action="安置缺口",
            detail=f"{len(short)}户{sum(r.people for r in short)}人无安置点容量，需请求县级支援",
            at=now,
            simulated=act.drill,
        )
    return ShelterResult(
        placed_households=sum(1 for r in all_rel if r.shelter_code),
        shortfall_households=len(short),
        shortfall_people=sum(r.people for r in short),
        shelters_used=len({r.shelter_code for r in all_rel if r.shelter_code}),
        changed_villages=tuple(sorted(changed_villages)),
    )


# --- step 4: clear roads --------------------------------------------------------------------


@dataclass(frozen=True)
class RoadResult:
    blocked: int
    dispatched: int
    reopened: int
    waiting_for_machine: int
    closed: bool = False  # the activation had ended: the step did nothing


def clear_roads(
    *,
    session: Session,
    activation_id: str,
    reports: Sequence[RoadReport],
    plan: Plan,
    now: datetime | None = None,
) -> RoadResult:
    """Record blocked roads, send machinery, and reopen the roads reported cleared.

    A machine serves one incident at a time; when its road reopens it is free
    for the next blocked road, oldest first.
    """
    now = now or clock(session, activation_id)
    held = hold_town_open(session, activation_id)
    if held is None:
        return RoadResult(0, 0, 0, 0, closed=True)
    act = held
    preferred = plan.defaults.clearing_machinery
    segments = list(session.exec(select(RoadSegment).where(RoadSegment.town_code == act.town_code)))
    by_code = {s.code: s for s in segments}
    by_name = {s.name: s for s in segments}
    resolved: list[tuple[RoadSegment, RoadReport]] = []
    for i, rep in enumerate(reports):
        seg = by_code.get(rep.road) or by_name.get(rep.road)
        if seg is None:
            raise RoadNotFound(
                f"roads[{i}]: road segment {rep.road!r} is not in town {act.town_code}; "
                "use a code or the exact name from roads.csv"
            )
        resolved.append((seg, rep))
    upsert(
        session,
        RoadIncident,
        [
            {
                "id": f"{activation_id}:{seg.code}",
                "activation_id": activation_id,
                "road_code": seg.code,
                "village_code": seg.village_code,
                "cause": rep.cause,
                "description": mask_text(rep.description),
                "status": RoadStatus.BLOCKED.value,
                "reported_at": now,
            }
            for seg, rep in resolved
        ],
    )
    for seg, rep in resolved:
        log_event(
            session,
            activation_id=activation_id,
            key=f"road-blocked:{seg.code}",
            actor=seg.village_code,
            action="道路中断",
            detail=f"{seg.name}：{mask_text(rep.description) or rep.cause}",
            at=now,
            simulated=act.drill,
        )
    cleared = {seg.code for seg, rep in resolved if rep.cleared}
    machines = {
        m.code: m for m in session.exec(select(Machine).where(Machine.town_code == act.town_code))
    }
    # Dispatch, let the cleared roads reopen, and dispatch again until nothing changes.
    while True:
        incidents = list(
            session.exec(
                select(RoadIncident)
                .where(RoadIncident.activation_id == activation_id)
                .order_by(col(RoadIncident.reported_at), col(RoadIncident.id))
            )
        )
        busy = set(
            session.exec(
                select(RoadIncident.machine_code)
                .join(Activation, col(Activation.id) == col(RoadIncident.activation_id))
                .where(
                    RoadIncident.status == RoadStatus.DISPATCHED,
                    col(RoadIncident.machine_code).is_not(None),
                    Activation.town_code == act.town_code,
                    *holds_resources(act),
                )
            )
        )
        waiting = [i for i in incidents if i.status == RoadStatus.BLOCKED]
        sent = dispatch(
            blocked=[
                BlockedRoad(i.id, by_code[i.road_code].lat, by_code[i.road_code].lon)
                for i in waiting
            ],
            machines=[
                FreeMachine(m.code, m.lat, m.lon, machine_preference(m.kind, preferred))
                for m in machines.values()
                if m.code not in busy
            ],
        )
        progressed = False
        for inc in waiting:
            if inc.id in sent:
                inc.machine_code = sent[inc.id]
                inc.status = RoadStatus.DISPATCHED
                inc.dispatched_at = now
                session.add(inc)
                m = machines[inc.machine_code]
                log_event(
                    session,
                    activation_id=activation_id,
                    key=f"road-dispatched:{inc.road_code}",
                    actor="镇应急办",
                    action="调派机械",
                    detail=f"调派{m.name}（{m.kind}）赴{by_code[inc.road_code].name}抢通",
                    at=now,
                    simulated=act.drill,
                )
                progressed = True
        for inc in incidents:
            if inc.status == RoadStatus.DISPATCHED and inc.road_code in cleared:
                inc.status = RoadStatus.REOPENED
                inc.reopened_at = now
                session.add(inc)
                log_event(
                    session,
                    activation_id=activation_id,
                    key=f"road-reopened:{inc.road_code}",
                    actor=inc.machine_code or "抢险队",
                    action="道路抢通",
                    detail=f"{by_code[inc.road_code].name}已清除障碍，恢复通行",
                    at=now,
                    simulated=act.drill,
                )
                progressed = True
        session.flush()
        if not progressed:
            break
    final = list(
        session.exec(select(RoadIncident).where(RoadIncident.activation_id == activation_id))
    )
    return RoadResult(
        blocked=len(final),
        dispatched=sum(1 for i in final if i.status == RoadStatus.DISPATCHED),
        reopened=sum(1 for i in final if i.status == RoadStatus.REOPENED),
        waiting_for_machine=sum(1 for i in final if i.status == RoadStatus.BLOCKED),
    )
