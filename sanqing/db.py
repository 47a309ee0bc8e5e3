"""The engine, sessions and portable upserts (SQLite by default, PostgreSQL when configured)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from sanqing import models as _models  # noqa: F401  (registers the tables)
from sanqing.errors import DatabaseUnavailable
from sanqing.migrate import bring_to_head
from sanqing.settings import get_settings

#: SQLite waits this long for a lock: villages write concurrently from Prefect's threads.
SQLITE_BUSY_TIMEOUT_S = 60
#: Rows per INSERT statement in bulk upserts (SQLite allows 32766 bound parameters).
UPSERT_BATCH = 500


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(url: str) -> Engine:
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = _create_engine(url)
        return _ENGINES[url]


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_engine() -> Engine:
    """Return the engine for the configured database (created once per URL)."""
    return _engine_for(get_settings().effective_database_url)


def reset_engines() -> None:
    """Dispose every engine (tests point the settings elsewhere between cases)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def init_db() -> None:
    """Bring the app database to the current schema: created, or upgraded by its migrations.

    A data directory made by an earlier version keeps its rows: its tables are upgraded
    by the Alembic revisions in ``migrations/`` (see ``sanqing.migrate``), nothing is
    dropped. Two processes starting at once migrate one after the other.
    A database that cannot be opened raises ``DatabaseUnavailable``: one line naming
    it (without its password) and the driver's reason, before any work.
    """
    try:
        bring_to_head(get_engine())
    except (OSError, SQLAlchemyError, CommandError) as exc:
        raise DatabaseUnavailable(_unavailable(exc)) from exc


def _unavailable(exc: BaseException) -> str:
    settings = get_settings()
    what = "SANQING_DATABASE_URL" if settings.database_url else "the app database"
    shown = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        reason = str(exc.orig)
    elif isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
    else:
        reason = str(exc)
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    return f"{what} {shown}: cannot open the database ({lines[0] if lines else type(exc).__name__})"


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def upsert(
    session: Session,
    model: type[SQLModel],
    rows: Iterable[dict[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    update: Sequence[str] | None = (),
) -> int:
    """Insert rows; on a key conflict update the ``update`` columns (``None``: all others).

    With ``update=()`` (the default) an existing row is left as it is: the run-state
    tables use this so that a re-run never overwrites what the field has confirmed.
    Returns the number of rows given.
    """
    table = model.__table__  # type: ignore[attr-defined]
    keys = list(keys or [c.name for c in table.primary_key.columns])
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        insert_fn: Any = postgresql.insert
    elif dialect == "sqlite":
        insert_fn = sqlite.insert
    else:  # pragma: no cover - guarded by the settings documentation
        raise NotImplementedError(f"upsert is not implemented for {dialect}")
    # executemany needs the same columns in every row of a batch: batch per column set.
    batches: dict[frozenset[str], list[dict[str, Any]]] = {}
    count = 0
    for row in rows:
        batch = batches.setdefault(frozenset(row), [])
        batch.append(row)
        if len(batch) >= UPSERT_BATCH:
            count += _upsert_batch(session, table, insert_fn, batch, keys, update)
            batch.clear()
    for batch in batches.values():
        if batch:
            count += _upsert_batch(session, table, insert_fn, batch, keys, update)
    return count


def _upsert_batch(
    session: Session,
    table: Any,
    insert_fn: Any,
    batch: list[dict[str, Any]],
    keys: list[str],
    update: Sequence[str] | None,
) -> int:
    # One statement, many parameter sets (executemany): compiling a 500-row VALUES
    # clause cost ~90 % of a county registry load.
    stmt = insert_fn(table)
    columns = set(batch[0])
    if update is None:
        update = [c for c in columns if c not in keys]
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt, batch)
    return len(batch)
