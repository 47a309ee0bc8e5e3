"""Asking people from a run: a paused run with a form in the control room, or nobody.

``ask`` pauses the current run until someone resumes it with input in the UI
(or through the API) or the time runs out; a timed-out pause is put back to
Running so the plan goes on with its timeout rule instead of failing.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.logging import get_run_logger
from prefect.runtime import deployment, flow_run
from pydantic import BaseModel, Field

from sanqing.answers import ApprovalAnswer, PatrolAnswer, VillageRollCall
from sanqing.response import MAX_VILLAGE_TASKS
from sanqing.settings import get_settings

T = TypeVar("T", bound=RunInput)

#: Set by a run that carries towns for a county run nobody can answer (a county batch
#: started by an in-process county run): its towns apply the "no answer" rules too.
UNATTENDED: ContextVar[bool] = ContextVar("sanqing_unattended", default=False)
#: How many tasks a town's village steps fan out to at most (``village_groups``): a county
#: run sets ``COUNTY_VILLAGE_TASKS`` for its towns.
VILLAGE_TASKS: ContextVar[int] = ContextVar("sanqing_village_tasks", default=MAX_VILLAGE_TASKS)
A = TypeVar("A", bound=BaseModel)


class ApprovalInput(ApprovalAnswer, RunInput):
    """指挥长审批"""


class RollCallInput(RunInput):
    """各村点名回报"""

    villages: list[VillageRollCall] = Field(
        min_length=1, title="各村点名", description="每个村一项：列出例外户，其余各户统一填报"
    )


class PatrolInput(PatrolAnswer, RunInput):
    """雨后巡查确认"""


def as_answer(given: RunInput, model: type[A]) -> A:
    """The plain answer inside a form's input (the form class adds Prefect's run-input parts)."""
    return model.model_validate(given.model_dump(include=set(model.model_fields)))


def can_answer() -> bool:
    """Whether someone can answer this run: it (or its parent) runs from a deployment.

    A run started in-process (the embedded default, the benchmark, a test) has no
    control room behind it: the plan's rules for "no answer" apply at once; so
    do the towns of a county batch whose county run has none (``UNATTENDED``).

    The run's own record says most of it without asking the server; a subflow asks
    once (Prefect reads its parent task run and flow run, a client each) and the
    answer is kept for the run: a town asks three times, twenty towns at once.
    """
    if UNATTENDED.get():
        return False
    ctx = FlowRunContext.get()
    run = ctx.flow_run if ctx is not None else None
    if run is None:  # outside a flow run (a task called on its own): ask Prefect
        return _ask_prefect()
    if run.deployment_id is not None:
        return True
    if run.parent_task_run_id is None:  # a top-level run started in-process
        return False
    return _subflow_can_answer(run.id)


@lru_cache(maxsize=1024)  # a run's place in the tree never changes; ids are never reused
def _subflow_can_answer(run_id: UUID) -> bool:
    return _ask_prefect()


def _ask_prefect() -> bool:
    """Prefect's answer: this run's deployment, else its parent's (API reads)."""
    return bool(deployment.get_id() or flow_run.get_parent_deployment_id())


def ask(
    input_type: type[T], *, description: str, timeout_s: int, key: str, **initial: Any
) -> T | None:
    """Pause for ``input_type`` (its form shows ``description``); None when the time ran out."""
    key = re.sub(r"[^a-z0-9-]+", "-", key.lower())  # Prefect's input keys allow no more
    try:
        return pause_flow_run(
            wait_for_input=input_type.with_initial_data(description=description, **initial),
            timeout=max(1, timeout_s),
            poll_interval=get_settings().pause_poll_s,
            key=key,
        )
    except FlowPauseTimeout:
        get_run_logger().warning(
            "no answer to %s within %d s: the plan's rule applies", key, timeout_s
        )
        _resume_self()
        return None


def _resume_self() -> None:
    """Put the timed-out paused run back to Running so its next steps can run."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext
    from prefect.states import Running

    ctx = FlowRunContext.get()
    assert ctx is not None and ctx.flow_run is not None
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(ctx.flow_run.id, Running(), force=True)
