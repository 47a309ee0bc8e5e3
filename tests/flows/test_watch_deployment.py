"""With a flood-response deployment on the server, the watch hands the response to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sanqing.feeds.model import Action, Decision, FeedWarning
from sanqing.models import Activation
from sanqing.plans import Level

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def deployment() -> Iterator[str]:
    from prefect.client.orchestration import get_client

    from flows.flood_response import flood_response

    deployment_id = flood_response.to_deployment(name="flood-response").apply()
    try:
        yield str(deployment_id)
    finally:  # other tests must see the embedded default again (no deployment: subflows)
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


def test_a_decision_becomes_one_deployment_run_with_the_warning(
    db_url: str, deployment: str
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from flows.rain_watch import respond

    w = FeedWarning(
        identifier="W-DEP",
        sender="S",
        sent=datetime(2026, 7, 12, 10, 30, tzinfo=UTC),
        source_format="cap",
        hazard="rainstorm",
        colour="red",
        geocodes=[("行政区划代码", "621221106202")],
    )
    d = Decision(
        action=Action.ACTIVATE,
        reason="test",
        level=Level.I,
        town_codes=["621221106"],
        village_codes=["621221106202"],
    )
    assert respond(w, d).activations == []  # the deployment run opens the activation
    assert respond(w, d).activations == []  # a retried watch: the idempotency key, one run
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        )
    assert len(runs) == 1
    p = runs[0].parameters
    # by name: the form's town picker (and the server's check of it) lists names, not codes
    assert p["town"] == "鸡峰镇" and p["level"] == "I"
    assert p["warning"]["identifier"] == "W-DEP" and p["warning"]["village_codes"] == [
        "621221106202"
    ]


def test_an_exercise_message_never_ends_a_real_response(db_url: str) -> None:
    from flows.rain_watch import respond
    from sanqing import response
    from sanqing.db import session_scope
    from sanqing.plans import load_plan
    from sanqing.registry import ensure_registry, find_town
    from sanqing.warning import WarningInfo

    ensure_registry("jifeng")
    with session_scope() as s:
        act = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=load_plan(),
            level=Level.II,
            warning=WarningInfo(identifier="REAL", colour="orange"),
            drill=False,
        ).activation_id
    cancel = FeedWarning(
        identifier="EX-CANCEL",
        sender="S",
        sent=datetime(2026, 7, 12, 12, 0, tzinfo=UTC),
        source_format="cap",
        msg_type="Cancel",
        status="Exercise",
    )
    d = Decision(action=Action.STAND_DOWN, reason="chain", town_codes=["621221106"], drill=False)
    assert respond(cancel, d).activations == []
    with session_scope() as s:
        assert s.get(Activation, act).status == "active"
