"""The five steps of the flood plan as domain functions over the database.

Each function takes keyword arguments and a session, works on one activation
(and one village where the plan fans out), and is idempotent: it derives row ids
from the activation and the subject and writes with upserts, so running it
again changes nothing. Prefect tasks in ``tasks/`` wrap these functions.

One module per concern: ``timeline`` (events and the drill clock), ``locks``
(one response per town); step 1: ``activation`` (open or continue), ``continuation``
(what a trigger changes), ``duty`` (the roster), ``standdown`` (lower, end); step 2:
``inspection``; step 3: ``relocation`` (who moves, with which cadre) and ``shelters``
(where to); step 4: ``roads``; the people in the loop: ``approval`` (the commander),
``rollcall`` (the villages' answers), ``escalation`` (应撤必撤 up the chain),
``patrol`` (after the rain, the end).
The reports (step 5) are ``sanqing.reporting``."""

from __future__ import annotations

from sanqing.response.activation import (
    ActivationResult,
    activate_plan,
    activation_id_for,
    holds_resources,
    open_activation,
)
from sanqing.response.approval import (
    ApprovalRequest,
    approval_needed,
    decide_approval,
    inform_commander,
    request_approval,
)
from sanqing.response.escalation import (
    CHAIN,
    STEP_REMOVAL,
    STEP_SECRETARY,
    STEP_TOWN_LEADER,
    EscalationResult,
    escalate_unconfirmed,
)
from sanqing.response.inspection import (
    InspectionResult,
    check_field_reports,
    inspect_hazards,
    resolve_findings,
)
from sanqing.response.locks import (
    COUNTY_VILLAGE_TASKS,
    MAX_VILLAGE_TASKS,
    get_activation,
    hold_open,
    hold_town_open,
    lock_town,
    lock_village,
    village_groups,
    villages_of,
)
from sanqing.response.patrol import (
    confirm_patrol,
    end_response,
    patrol_state,
    record_patrol,
    request_stand_down,
)
from sanqing.response.relocation import (
    VillageRelocationResult,
    may_move_at_once,
    plan_relocations,
)
from sanqing.response.roads import (
    RoadResult,
    clear_roads,
)
from sanqing.response.rollcall import (
    CHASED,
    UNCONFIRMED,
    RollCallResult,
    outstanding,
    read_roll_call_choices,
    record_roll_call,
    roll_call_choices,
    simulate_follow_up,
    simulate_roll_call,
)
from sanqing.response.shelters import (
    OCCUPYING,
    ShelterResult,
    assign_town_shelters,
)
from sanqing.response.standdown import set_level, stand_down
from sanqing.response.threats import village_threats
from sanqing.response.timeline import (
    advance_clock,
    clock,
    how_noted,
    local_tz,
    log_event,
    read_rows,
)

__all__ = [
    "CHAIN",
    "CHASED",
    "COUNTY_VILLAGE_TASKS",
    "MAX_VILLAGE_TASKS",
    "OCCUPYING",
    "STEP_REMOVAL",
    "STEP_SECRETARY",
    "STEP_TOWN_LEADER",
    "UNCONFIRMED",
    "ActivationResult",
    "ApprovalRequest",
    "EscalationResult",
    "InspectionResult",
    "RoadResult",
    "RollCallResult",
    "ShelterResult",
    "VillageRelocationResult",
    "activate_plan",
    "activation_id_for",
    "advance_clock",
    "approval_needed",
    "assign_town_shelters",
    "check_field_reports",
    "clear_roads",
    "clock",
    "confirm_patrol",
    "decide_approval",
    "end_response",
    "escalate_unconfirmed",
    "get_activation",
    "hold_open",
    "hold_town_open",
    "holds_resources",
    "how_noted",
    "inform_commander",
    "inspect_hazards",
    "local_tz",
    "lock_town",
    "lock_village",
    "log_event",
    "may_move_at_once",
    "open_activation",
    "outstanding",
    "patrol_state",
    "plan_relocations",
    "read_roll_call_choices",
    "read_rows",
    "record_patrol",
    "record_roll_call",
    "request_approval",
    "request_stand_down",
    "resolve_findings",
    "roll_call_choices",
    "set_level",
    "simulate_follow_up",
    "simulate_roll_call",
    "stand_down",
    "village_groups",
    "village_threats",
    "villages_of",
]
