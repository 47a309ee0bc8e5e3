"""The state columns hold their vocabulary: members in, members out, nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import select

from sanqing.db import session_scope
from sanqing.models import Activation, ActivationStatus, Level
from tests.unit.test_response import activate


def read(act: str) -> Activation:
    with session_scope() as s:
        return s.exec(select(Activation).where(Activation.id == act)).one()


def test_a_state_reads_back_as_its_member_whoever_wrote_it(db_url: str) -> None:
    act = activate(Level.II)
    row = read(act)
    assert row.level is Level.II and row.status is ActivationStatus.ACTIVE
    with session_scope() as s:  # as an older release or a hand-written fix wrote it
        s.execute(text("UPDATE activation SET status = 'stood_down' WHERE id = :a"), {"a": act})
    row = read(act)
    assert row.status is ActivationStatus.STOOD_DOWN
    assert row.status == "stood_down" and f"{row.level}" == "II"  # and reads as its text


def test_a_state_outside_its_vocabulary_is_refused_and_nothing_is_written(db_url: str) -> None:
    act = activate(Level.II)
    with (
        pytest.raises(StatementError, match="'gone' is not among the defined enum values"),
        session_scope() as s,
    ):
        row = s.exec(select(Activation).where(Activation.id == act)).one()
        row.status = "gone"  # type: ignore[assignment]
        row.level = Level.I
        s.add(row)
    row = read(act)
    assert (row.status, row.level) == (ActivationStatus.ACTIVE, Level.II)


def test_an_enum_column_added_to_an_older_database_defaults_to_its_text(db_url: str) -> None:
    from sqlalchemy import inspect

    from sanqing.db import get_engine, init_db

    activate(Level.II)
    with session_scope() as s:  # from before the column (and Alembic)
        s.execute(text("ALTER TABLE roadincident DROP COLUMN status"))
        s.execute(text("DROP TABLE alembic_version"))
    init_db()
    (status,) = [
        c for c in inspect(get_engine()).get_columns("roadincident") if c["name"] == "status"
    ]
    assert "'blocked'" in str(status["default"]) and "RoadStatus" not in str(status["default"])


def test_ranks_follow_each_enums_own_order() -> None:
    """``rank`` is the member's place in its own enum, even where two enums share a value
    ("low" is a RiskLevel and an ArrivalRisk: as strings the two are equal)."""
    from sanqing.models import ArrivalRisk, RiskLevel

    for enum in (RiskLevel, Level, ArrivalRisk):
        assert [m.rank for m in enum] == list(range(len(enum)))
    assert RiskLevel.LOW.rank == 0 and ArrivalRisk.LOW.rank == 1
    assert Level("I").rank > Level("II").rank > Level.IV.rank
