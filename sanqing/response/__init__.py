"""The five steps of the flood plan as domain functions over the database.

Each function takes keyword arguments and a session, works on one activation
(and one village where the plan fans out), and is idempotent: it derives row ids
from the activation and the subject and writes with upserts, so running it
again changes nothing. Prefect tasks in ``tasks/`` wrap these functions.

One module per concern: ``timeline`` (events and the drill clock), ``locks``
(one response per town), ``activation`` (step 1), ``inspection`` (step 2),
``relocation`` (step 3: who moves, where to), ``roads`` (step 4); the reports
(step 5) are ``sanqing.reporting``."""

from __future__ import annotations

from sanqing.response.activation import (
    ActivationResult,
    activate_plan,
    activation_id_for,
    holds_resources,
    open_activation,
    set_level,
    stand_down,
)
from sanqing.response.inspection import (
    InspectionResult,
    check_field_reports,
    inspect_hazards,
    resolve_findings,
)
from sanqing.response.locks import (
    MAX_VILLAGE_TASKS,
    get_activation,
    hold_open,
    hold_town_open,
    lock_town,
    lock_village,
    village_groups,
    villages_of,
)
from sanqing.response.relocation import (
    OCCUPYING,
    ShelterResult,
    VillageRelocationResult,
    assign_town_shelters,
    plan_relocations,
)
from sanqing.response.roads import (
    RoadResult,
    clear_roads,
)
from sanqing.response.timeline import (
    advance_clock,
    clock,
    local_tz,
    log_event,
    read_rows,
)

__all__ = [
    "MAX_VILLAGE_TASKS",
    "OCCUPYING",
    "ActivationResult",
    "InspectionResult",
    "RoadResult",
    "ShelterResult",
    "VillageRelocationResult",
    "activate_plan",
    "activation_id_for",
    "advance_clock",
    "assign_town_shelters",
    "check_field_reports",
    "clear_roads",
    "clock",
    "get_activation",
    "hold_open",
    "hold_town_open",
    "holds_resources",
    "inspect_hazards",
    "local_tz",
    "lock_town",
    "lock_village",
    "log_event",
    "open_activation",
    "plan_relocations",
    "read_rows",
    "resolve_findings",
    "set_level",
    "stand_down",
    "village_groups",
    "villages_of",
]
