"""The what-if deployment's flow: the figures of ``sanqing whatif``, as an artifact; nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from flows.whatif import what_if_flow
from sanqing.db import session_scope
from sanqing.models import Activation, Level, Notice, Relocation
from sanqing.privacy import contains_personal_data
from sanqing.registry import ensure_registry
from sanqing.whatif import what_if

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def test_the_flow_publishes_the_what_if_and_writes_nothing(db_url: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    ensure_registry("jifeng")
    state = what_if_flow(town="jifeng", level=Level.II, return_state=True)
    figs = state.result()
    expected = what_if("jifeng", level=Level.II)
    for key in ("households_to_move", "people_to_move", "shelter_shortfall_people", "villages"):
        assert figs[key] == expected[key]
    with session_scope() as s:
        for model in (Activation, Relocation, Notice):
            assert s.exec(select(func.count()).select_from(model)).one() == 0
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    (artifact,) = [a for a in artifacts if a.type == "markdown"]
    text = str(artifact.data)
    assert artifact.key == f"whatif-{figs['town_code']}"
    assert f"需转移 {figs['households_to_move']} 户 {figs['people_to_move']} 人" in text
    assert not contains_personal_data(text)
