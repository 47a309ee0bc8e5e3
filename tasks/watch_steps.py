"""The rain watch's steps as tasks: end or lower a town's response as a decision says."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from prefect.logging import get_logger

from sanqing import response
from sanqing.answers import SimulatedAnswers
from sanqing.db import session_scope
from sanqing.feeds.watch import left_alone
from sanqing.models import Activation
from sanqing.plans import Level, load_plan
from sanqing.registry import town_names
from tasks.options import db_task

#: When a Prefect server has this deployment (``sanqing serve`` / ``prefect deploy``), the
#: response runs there, on a worker; on the embedded default it runs as a subflow.
FLOOD_DEPLOYMENT = "flood-response/flood-response"
#: The run that waits for the after-rain patrol's all-clear in the control room.
PATROL_DEPLOYMENT = "after-rain-patrol/after-rain-patrol"


def deployment_available(name: str = FLOOD_DEPLOYMENT) -> bool:
    """Whether the API knows this deployment."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(name)
    except ObjectNotFound:
        return False
    return True


@dataclass(frozen=True)
class Acted:
    """What a stand-down or a downgrade did in one town."""

    activation_id: str | None = None  # the activation it acted on; None: nothing running
    left_alone: str | None = None  # the open activation was not the one decided for: why


def _left_alone(act: Activation, targets: list[str] | None, what: str) -> Acted | None:
    """The town's open activation is not the one the decision was for: say so, act on nothing."""
    why = left_alone(act, targets)
    if why is None:
        return None
    get_logger("sanqing.watch").warning("%s of %s not carried out: %s", what, act.town_code, why)
    return Acted(left_alone=why)


@db_task("stand-down", retry_condition_fn=None)
def stand_down_town(
    town_code: str,
    drill: bool,
    reason: str,
    plan_name: str,
    locale: str,
    targets: list[str] | None = None,
) -> Acted:
    """End the town's running response (final report, 终报) once the after-rain patrol allows.

    A drill's patrol answers itself. A real response waits for the patrol's all-clear:
    with the after-rain-patrol deployment on the server, a run of it is started and
    waits in the control room for the patrol's form. With ``targets`` (the activations
    the decision was taken for), any other open response is left alone.
    """
    plan = load_plan(plan_name)
    with session_scope() as session:
        act = response.open_activation(session, town_code=town_code, plan=plan.plan, drill=drill)
        if act is None:
            return Acted()
        if (skip := _left_alone(act, targets, "stand-down")) is not None:
            return skip
        done = response.end_response(
            session,
            activation_id=act.id,
            plan=plan,
            reason=reason,
            locale=locale,
            simulated_patrol=SimulatedAnswers().patrol if drill else None,
        )
        act_id = act.id
    if not done and deployment_available(PATROL_DEPLOYMENT):
        from prefect.deployments import run_deployment

        run_deployment(
            PATROL_DEPLOYMENT,
            # the form's town picker lists names: the server refuses a code
            parameters={
                "town": town_names().get(town_code, town_code),
                "reason": reason,
                "plan": plan_name,
                "locale": locale,
            },
            timeout=0,
            # one patrol run per stand-down request (a later all-clear may ask again)
            idempotency_key=f"patrol:{act_id}:{hashlib.sha1(reason.encode()).hexdigest()[:10]}",
        )
    return Acted(act_id)


@db_task("lower-level", retry_condition_fn=None)
def lower_level(
    town_code: str,
    drill: bool,
    level: Level,
    reason: str,
    plan_name: str,
    targets: list[str] | None = None,
) -> Acted:
    """A downgrade: the running response continues at the lower level (with ``targets``:
    only the one the decision was taken for)."""
    with session_scope() as session:
        act = response.open_activation(session, town_code=town_code, plan=plan_name, drill=drill)
        if act is None:
            return Acted()
        if (skip := _left_alone(act, targets, "downgrade")) is not None:
            return skip
        response.set_level(session=session, activation_id=act.id, level=level, reason=reason)
        return Acted(act.id)
