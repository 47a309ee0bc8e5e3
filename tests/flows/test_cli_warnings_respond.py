"""`sanqing warnings ingest --respond` starts the flood response the decision calls for."""

from __future__ import annotations

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from sanqing.db import session_scope
from sanqing.models import Activation, FeedRecord, Relocation
from sanqing.settings import REPO_ROOT

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]
ORANGE = str(REPO_ROOT / "tests" / "data" / "feeds" / "cap" / "rainstorm_orange_zh_en.xml")


def test_respond_starts_the_response_and_links_the_record(db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["warnings", "ingest", ORANGE, "--respond", "--now", "2026-07-12T19:00:00+08:00"]
    )
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        (act,) = s.exec(select(Activation)).all()
        assert act.level == "II" and not act.drill
        assert s.exec(select(Relocation)).first() is not None
        (record,) = s.exec(select(FeedRecord)).all()
        assert record.action == "activate" and record.activation_id == act.id
