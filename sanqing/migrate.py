"""The app schema's revisions (Alembic, in ``migrations/``) and how a database reaches head.

``bring_to_head`` is what ``init_db`` runs, under a lock so that two processes starting
at once never both migrate (PostgreSQL: a transaction-scoped advisory lock; SQLite:
``BEGIN IMMEDIATE``, the file's write lock). What it meets:

- a database with Alembic's version table: upgraded to head (nothing to do at head);
- an empty database: the tables created from the models and stamped head (cheaper
  than replaying every revision; a test proves both give the same schema);
- a data directory from before the migrations (tables, no version table): when its
  tables and columns are exactly those of the previous release, it is stamped with
  the baseline revision and upgraded from there; older still, the tables and columns
  it lacks are added (as ``init_db`` did before Alembic) and it is stamped head.
  Nothing is dropped and no row is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, DateTime, Engine, String, create_engine, event, inspect, text
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from sanqing import models as _models  # noqa: F401  (registers the tables)
from sanqing.settings import shipped

#: The revision that is the previous release's schema (d8dfc12): a data directory of
#: that release, which has no version table, is stamped with it.
BASELINE = "0001"
#: PostgreSQL advisory lock (first key; the second is the schema's hash): one migrator.
ADVISORY_LOCK_KEY = 0x5A4E5149  # "SANQ"
#: SQLite waits this long for another process's migration (the file's write lock).
SQLITE_LOCK_TIMEOUT_S = 120

#: SQLite database names of an in-memory database (a database of the app's engine alone).
MEMORY = (None, "", ":memory:")

_COMPILED: dict[str, tuple[str, ...]] = {}
_COMPILED_LOCK = threading.Lock()


def migrations_dir() -> Path:
    """``migrations/`` of the checkout, else the copy the wheel ships in ``sanqing/_data``."""
    return shipped("migrations")


@lru_cache(maxsize=1)
def script_directory() -> ScriptDirectory:
    """The revisions, read once per process (``init_db`` runs per test and per command)."""
    return ScriptDirectory(str(migrations_dir()))


def alembic_config(connection: Connection | None = None) -> Config:
    """A config for ``alembic.command`` on ``connection`` (``migrations/env.py`` uses it)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def bring_to_head(app_engine: Engine) -> None:
    """Bring the app's database to the head revision (see the module's docstring).

    The first look, with the app's engine, takes no lock: at head, as nearly always,
    nothing waits for a writer. Otherwise the look is made again under the lock,
    on a connection of its own.
    """
    with app_engine.connect() as conn:
        if _at_head(conn):
            return
    if app_engine.url.get_backend_name() == "sqlite" and app_engine.url.database in MEMORY:
        with app_engine.begin() as conn:  # only this process sees it: nobody to lock out
            _migrate(conn)
        return
    engine = migration_engine(app_engine.url.render_as_string(hide_password=False))
    try:
        with locked(engine) as conn:  # another process may have migrated meanwhile
            if not _at_head(conn):
                _migrate(conn)
    finally:
        engine.dispose()


def _at_head(conn: Connection) -> bool:
    current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(script_directory().get_heads())


def _migrate(conn: Connection) -> None:
    context = MigrationContext.configure(conn)
    if current := context.get_current_heads():
        _refuse_unknown(current)
        command.upgrade(alembic_config(conn), "head")
        return
    ours = set(SQLModel.metadata.tables) | set(baseline_shape())
    present = set(inspect(conn).get_table_names()) & ours
    if not present:
        for statement in create_statements(conn.dialect):
            conn.exec_driver_sql(statement)
        context.stamp(script_directory(), "head")
    elif shape(conn, ours) == baseline_shape():
        context.stamp(script_directory(), BASELINE)
        command.upgrade(alembic_config(conn), "head")
    else:
        SQLModel.metadata.create_all(conn)
        add_missing_columns(conn)
        context.stamp(script_directory(), "head")


def create_statements(dialect: Dialect) -> tuple[str, ...]:
    """The models' CREATE TABLE and CREATE INDEX statements, compiled once per dialect.

    Tests create a database per test: compiling the DDL and asking for every table
    first (``create_all``) was two thirds of ``init_db`` on a fresh SQLite file.
    """
    with _COMPILED_LOCK:
        if dialect.name not in _COMPILED:
            statements = []
            for table in SQLModel.metadata.sorted_tables:
                statements.append(str(CreateTable(table).compile(dialect=dialect)))
                statements.extend(
                    str(CreateIndex(index).compile(dialect=dialect))
                    for index in sorted(table.indexes, key=lambda i: i.name or "")
                )
            _COMPILED[dialect.name] = tuple(statements)
        return _COMPILED[dialect.name]


def _refuse_unknown(current: tuple[str, ...]) -> None:
    """A database a newer sanqing upgraded is refused, never downgraded or touched."""
    known = {script.revision for script in script_directory().walk_revisions()}
    if unknown := sorted(set(current) - known):
        raise CommandError(
            f"its schema is at revision {', '.join(unknown)}, newer than this sanqing's "
            f"{script_directory().get_current_head()}: run the sanqing that upgraded it "
            "(or restore a backup of the data directory)"
        )


def shape(conn: Connection, tables: set[str]) -> dict[str, frozenset[str]]:
    """Each of ``tables`` the database has, with its column names."""
    inspector = inspect(conn)
    return {
        name: frozenset(c["name"] for c in inspector.get_columns(name))
        for name in sorted(set(inspector.get_table_names()) & tables)
    }


@lru_cache(maxsize=1)
def baseline_shape() -> dict[str, frozenset[str]]:
    """The previous release's tables and columns, from the baseline revision itself."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            names = set(inspect(conn).get_table_names()) - {"alembic_version"}
            return shape(conn, names)
    finally:
        engine.dispose()


def migration_engine(url: str) -> Engine:
    """An engine of one connection at a time for migrating ``url`` (SQLite: real transactions).

    pysqlite leaves DDL outside transactions; here every transaction is a real one,
    begun ``IMMEDIATE`` so that it holds the file's write lock from its first statement.
    """
    if not url.startswith("sqlite"):
        return create_engine(url, poolclass=NullPool)
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={"timeout": SQLITE_LOCK_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" below starts transactions
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other migrator of this database runs beside; committed at the end."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                {"key": ADVISORY_LOCK_KEY},
            )
        yield conn


def add_missing_columns(conn: Connection) -> None:
    """Add the columns the models have and a table lacks (a database older than the baseline).

    An added column has the model's scalar default as its server default, and is NOT
    NULL only when the model says so and such a default fills the rows already there.
    """
    inspector = inspect(conn)
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            ddl = column.type.compile(dialect=conn.dialect)
            default = _default_sql(column)
            if default and not column.nullable:
                default += " NOT NULL"
            conn.execute(
                text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {ddl}{default}')
            )


def _default_sql(column: Any) -> str:
    if column.default is None or not getattr(column.default, "is_scalar", False):
        return ""
    value = column.default.arg
    if isinstance(value, StrEnum):  # an enum column's default: its text
        value = value.value
    shown = ("TRUE" if value else "FALSE") if isinstance(value, bool) else repr(value)
    return f" DEFAULT {shown}"


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write column types as plain SQLAlchemy types, so a revision never imports the models.

    UTCDateTime is a timestamp with time zone, SQLModel's AutoString a VARCHAR; an enum
    column stays a VARCHAR of its length (no database enum type to migrate).
    """
    if type_ != "type":
        return False
    if isinstance(obj, TypeDecorator) and isinstance(obj.impl, DateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, String) and (
        type(obj).__module__.startswith("sqlmodel") or type(obj).__name__ == "Enum"
    ):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False
