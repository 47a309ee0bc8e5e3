"""The app schema's migrations: an older data directory upgrades, keeping its rows.

The previous release's schema (d8dfc12) is built two ways: from the baseline revision
(SQLite and PostgreSQL) and from the DDL that release's models created on SQLite,
captured in tests/data/schema/d8dfc12.sqlite.sql. Each database gets rows of that
release, then ``init_db`` runs as the new release's first start would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Table,
    create_engine,
    inspect,
    text,
)
from sqlmodel import SQLModel

from sanqing import db
from sanqing.errors import DatabaseUnavailable
from sanqing.migrate import (
    BASELINE,
    alembic_config,
    baseline_shape,
    bring_to_head,
    migration_engine,
    script_directory,
    shape,
)
from sanqing.models import Relocation, Shelter
from sanqing.settings import REPO_ROOT, get_settings
from tests.conftest import BACKENDS, TEST_PG_URL, _drop_pg_schema, _pg_schema_url

D8DFC12_SQLITE = REPO_ROOT / "tests" / "data" / "schema" / "d8dfc12.sqlite.sql"
NOW = datetime(2026, 7, 12, 8, 0, tzinfo=UTC)
HEAD = script_directory().get_current_head()
#: Tables and columns of today's models.
MODELS = {t.name: frozenset(c.name for c in t.columns) for t in SQLModel.metadata.sorted_tables}
#: The columns of today's models with a length (VARCHAR(n)), and that length.
LENGTHS = {
    (t.name, c.name): c.type.length
    for t in SQLModel.metadata.sorted_tables
    for c in t.columns
    if getattr(c.type, "length", None)
}


@pytest.fixture(params=BACKENDS)
def empty_url(
    request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An empty app database (not yet through ``init_db``): SQLite, and PostgreSQL when set."""
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'sanqing.db'}"
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        assert TEST_PG_URL is not None
        url, schema = _pg_schema_url(TEST_PG_URL)
    monkeypatch.setenv("SANQING_DATABASE_URL", url)
    get_settings.cache_clear()
    db.reset_engines()
    yield url
    db.reset_engines()
    if schema is not None and TEST_PG_URL is not None:
        _drop_pg_schema(TEST_PG_URL, schema)


def run(url: str, fn: Any) -> Any:
    """``fn(conn)`` in one committed transaction on ``url``."""
    engine = migration_engine(url)
    try:
        with engine.begin() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def previous_release(url: str) -> None:
    """The schema of d8dfc12 as its data directory has it: no Alembic version table."""

    def build(conn: Connection) -> None:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))

    run(url, build)


def _filler(column: Any) -> Any:
    kind = column.type
    for sa_type, value in (
        (Boolean, False),
        (Integer, 1),
        (Float, 34.5),
        (DateTime, NOW),
        (Date, NOW.date()),
        (JSON, []),
    ):
        if isinstance(kind, sa_type):
            return value
    return f"{column.name}-x"[: getattr(kind, "length", None)]


def put(conn: Connection, table: str, **given: Any) -> None:
    """Insert a row into ``table`` as the database has it: required columns filled in."""
    reflected = Table(table, MetaData(), autoload_with=conn)
    row = {c.name: _filler(c) for c in reflected.columns if not c.nullable}
    conn.execute(reflected.insert(), [row | given])


def previous_release_rows(conn: Connection) -> None:
    """A town as d8dfc12 stored it: an activation, a move to a shelter, a notice, a shift."""
    put(conn, "town", code="T1", key="t1")
    put(conn, "village", code="V1", town_code="T1")
    put(conn, "cadre", code="C1", town_code="T1", village_code="V1", role="village_cadre")
    put(conn, "household", code="H1", village_code="V1", members=3, safety_rating="C")
    put(conn, "shelter", code="S1", town_code="T1", village_code="V1", capacity=80)
    put(conn, "activation", id="A1", town_code="T1", level="II", status="active", drill=False)
    put(
        conn,
        "relocation",
        id="A1:H1",
        activation_id="A1",
        village_code="V1",
        household_code="H1",
        people=3,
        zone="danger",
        status="in_shelter",
        shelter_code="S1",
    )
    put(conn, "notice", id="N1", activation_id="A1", channel="sms", status="sent", body="转移")
    put(conn, "dutyshift", id="D1", activation_id="A1", cadre_code="C1", post="值班人员")
    put(conn, "registeredperson", id="P1", town_code="T1", village_code="V1", risk="high")


def rows_kept(conn: Connection) -> None:
    counts = {
        t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
        for t in ("town", "household", "activation", "relocation", "notice", "dutyshift")
    }
    assert set(counts.values()) == {1}, counts
    assert conn.execute(text("SELECT body FROM notice")).scalar_one() == "转移"


def at_head_like_the_models(conn: Connection) -> None:
    """Every table and column of the models, at the head revision, nothing to migrate."""
    assert shape(conn, set(MODELS)) == MODELS
    assert MigrationContext.configure(conn).get_current_heads() == (HEAD,)
    diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert lengths(conn) == LENGTHS  # compare_metadata lets VARCHAR for VARCHAR(9) pass


def lengths(conn: Connection) -> dict[tuple[str, str], int | None]:
    inspector = inspect(conn)
    return {
        (table, c["name"]): getattr(c["type"], "length", None)
        for table in MODELS
        for c in inspector.get_columns(table)
        if (table, c["name"]) in LENGTHS
    }


def test_a_previous_release_data_directory_upgrades_keeping_its_rows(empty_url: str) -> None:
    previous_release(empty_url)
    run(empty_url, previous_release_rows)
    db.init_db()
    run(empty_url, at_head_like_the_models)
    run(empty_url, rows_kept)
    with db.session_scope() as s:  # the columns a move gained read as the model's defaults
        move = s.get(Relocation, "A1:H1")
        assert move is not None and (move.isolation, move.monitored) == (False, 0)
        assert move.status == "in_shelter" and move.ordered_at == NOW
        shelter = s.get(Shelter, "S1")
        assert shelter is not None and (shelter.capacity, shelter.isolation_places) == (80, 0)
    db.init_db()  # and again: nothing to do
    run(empty_url, rows_kept)


def test_the_previous_release_as_its_models_created_it_is_the_baseline(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = data_dir / "old.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(D8DFC12_SQLITE.read_text(encoding="utf-8"))
    url = f"sqlite:///{path}"
    assert run(url, lambda conn: shape(conn, set(baseline_shape()))) == baseline_shape()
    run(url, previous_release_rows)
    monkeypatch.setenv("SANQING_DATABASE_URL", url)
    get_settings.cache_clear()
    db.init_db()
    run(url, at_head_like_the_models)
    run(url, rows_kept)


def describe(conn: Connection) -> dict[str, Any]:
    """Every table's columns (name, type, null), key, foreign keys, indexes and uniques.

    Columns by name: an added column comes last in its table, which nothing reads.
    """
    inspector = inspect(conn)
    return {
        table: (
            sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ),
            inspector.get_pk_constraint(table)["constrained_columns"],
            sorted(
                (f["constrained_columns"], f["referred_table"], f["referred_columns"])
                for f in inspector.get_foreign_keys(table)
            ),
            sorted(
                (i["name"], i["column_names"], bool(i["unique"]), _where(i))
                for i in inspector.get_indexes(table)
            ),
            sorted(str(u) for u in inspector.get_unique_constraints(table)),
        )
        for table in sorted(set(inspector.get_table_names()) - {"alembic_version"})
    }


def _where(index: Any) -> str:
    """A partial index's condition, as text."""
    return " ".join(f"{k}={v}" for k, v in sorted((index.get("dialect_options") or {}).items()))


def test_the_baseline_revision_is_exactly_the_previous_release_on_sqlite(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(data_dir / "old.db") as conn:
        conn.executescript(D8DFC12_SQLITE.read_text(encoding="utf-8"))
    previous_release(f"sqlite:///{data_dir / 'baseline.db'}")
    old = run(f"sqlite:///{data_dir / 'old.db'}", describe)
    assert run(f"sqlite:///{data_dir / 'baseline.db'}", describe) == old
    assert len(old) == len(baseline_shape()) == 26


def test_an_older_database_still_gains_what_it_lacks(empty_url: str) -> None:
    previous_release(empty_url)
    run(empty_url, previous_release_rows)

    def older(conn: Connection) -> None:  # before the registrations and the urgent moves
        conn.execute(text("DROP TABLE registeredperson"))
        with Operations(MigrationContext.configure(conn)).batch_alter_table("relocation") as b:
            b.drop_column("urgent")

    run(empty_url, older)
    db.init_db()
    assert run(empty_url, lambda conn: shape(conn, set(MODELS))) == MODELS
    heads = run(empty_url, lambda conn: MigrationContext.configure(conn).get_current_heads())
    assert heads == (HEAD,)
    run(empty_url, rows_kept)
    with db.session_scope() as s:
        move = s.get(Relocation, "A1:H1")
        assert move is not None and move.urgent is False and move.isolation is False


def test_a_fresh_database_is_the_models_at_head(empty_url: str) -> None:
    db.init_db()
    run(empty_url, at_head_like_the_models)


def test_every_model_change_has_its_revision(empty_url: str) -> None:
    """Replaying the revisions from empty gives the models: a change without one fails here.

    Add one with ``alembic revision --autogenerate -m "…"`` (README, "Upgrading").
    """
    run(empty_url, lambda conn: command.upgrade(alembic_config(conn), "head"))
    run(empty_url, at_head_like_the_models)


def test_a_database_a_newer_sanqing_upgraded_is_refused_untouched(empty_url: str) -> None:
    db.init_db()
    run(empty_url, a_town)
    run(empty_url, lambda conn: conn.execute(text("UPDATE alembic_version SET version_num='0099'")))
    with pytest.raises(DatabaseUnavailable, match=r"revision 0099, newer than this sanqing's 0002"):
        db.init_db()
    versions = run(empty_url, lambda c: c.execute(text("SELECT * FROM alembic_version")).all())
    assert [tuple(v) for v in versions] == [("0099",)]
    assert run(empty_url, lambda c: c.execute(text("SELECT name FROM town")).scalar_one()) == "T"


def a_town(conn: Connection) -> None:
    put(conn, "town", code="T1", key="t1", name="T")


def test_the_revisions_go_back_down_to_the_baseline(empty_url: str) -> None:
    previous_release(empty_url)
    run(empty_url, previous_release_rows)
    db.init_db()
    run(empty_url, lambda conn: command.downgrade(alembic_config(conn), BASELINE))
    assert run(empty_url, lambda conn: shape(conn, set(MODELS))) == baseline_shape()
    run(empty_url, rows_kept)
    db.init_db()
    run(empty_url, at_head_like_the_models)


@pytest.fixture
def second_url(empty_url: str, data_dir: Path) -> Iterator[str]:
    """Another empty database on the same backend as ``empty_url``."""
    if empty_url.startswith("sqlite"):
        yield f"sqlite:///{data_dir / 'second.db'}"
        return
    assert TEST_PG_URL is not None
    url, schema = _pg_schema_url(TEST_PG_URL)
    yield url
    _drop_pg_schema(TEST_PG_URL, schema)


def test_an_upgraded_database_and_a_fresh_one_are_alike(empty_url: str, second_url: str) -> None:
    previous_release(second_url)
    run(second_url, previous_release_rows)
    engine = create_engine(second_url)
    bring_to_head(engine)
    engine.dispose()
    db.init_db()
    assert run(second_url, describe) == run(empty_url, describe)


def test_an_in_memory_database_is_created_on_the_apps_own_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANQING_DATABASE_URL", "sqlite://")
    get_settings.cache_clear()
    db.reset_engines()
    db.init_db()
    with db.session_scope() as s:
        assert s.get(Shelter, "none") is None  # the table is there, in this engine's database
