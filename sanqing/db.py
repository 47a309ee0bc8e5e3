"""The engine, sessions and portable upserts (SQLite by default, PostgreSQL when configured)."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic.util import CommandError
from sqlalchemy import event, make_url
from sqlalchemy import update as update_stmt
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel, create_engine

from sanqing import models as _models  # noqa: F401  (registers the tables)
from sanqing.errors import DatabaseUnavailable
from sanqing.migrate import bring_to_head
from sanqing.settings import get_settings

#: SQLite waits this long for a lock: villages write concurrently from Prefect's threads.
SQLITE_BUSY_TIMEOUT_S = 60
#: Rows per INSERT statement in bulk upserts (SQLite allows 32766 bound parameters).
UPSERT_BATCH = 500
#: Rows of one upsert from which PostgreSQL gets them by COPY (a town's outbox, its moves).
#: Measured per call on a bench town: executemany ~1 ms + ~0.18 ms a row, COPY ~1.5 ms +
#: ~0.03 ms a row; a village's 10 inspections or 25 new moves already go faster by COPY.
COPY_FROM = 10


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine_for(url: str) -> Engine:
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = _create_engine(url)
        return _ENGINES[url]


def _json_dumps(value: Any) -> str:
    # orjson: a town's moves and outbox carry ~15,000 JSON values a run; the standard
    # library's encoder and decoder were a fifth of the CPU of reading them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _create_engine(url: str) -> Engine:
    json_codec: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **json_codec,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **json_codec)


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


def core_rows(session: Session, stmt: Any) -> list[Any]:
    """The rows of a Core ``select`` of columns, in the session's transaction.

    Run on the session's connection: the ORM's way (``session.execute``) sends each row
    through its loading machinery, which for a town's thousands of rows cost more than
    the read itself. What the session holds is flushed first, as its autoflush would.
    """
    if session.autoflush:
        session.flush()
    return list(session.connection().execute(stmt).all())


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
    for row in rows:
        batches.setdefault(frozenset(row), []).append(row)
    if dialect == "postgresql" and update == () and len(batches) > 1:
        batches = _one_column_set(table, batches)
    count = 0
    for batch in batches.values():
        if dialect == "postgresql" and len(batch) >= COPY_FROM:
            count += _copy_upsert(session, table, batch, keys, update)
            continue
        for start in range(0, len(batch), UPSERT_BATCH):
            chunk = batch[start : start + UPSERT_BATCH]
            count += _upsert_batch(session, table, insert_fn, chunk, keys, update)
    return count


def _one_column_set(
    table: Any, batches: dict[frozenset[str], list[dict[str, Any]]]
) -> dict[frozenset[str], list[dict[str, Any]]]:
    """Insert-only rows of several column sets as one set, for one COPY instead of many
    small executemanys (a village's notices with and without a payload).

    A column a row lacks gets what the insert would give it: the model's default, or
    NULL. A batch lacking a column with a server default (or a required one) stays apart.
    """
    union = frozenset().union(*batches)
    merged: list[dict[str, Any]] = []
    apart: dict[frozenset[str], list[dict[str, Any]]] = {}
    for columns, batch in batches.items():
        missing = [table.c[c] for c in union - columns]
        if not all(_fillable(c) for c in missing):
            apart[columns] = batch
            continue
        for row in batch:
            merged.append(row | {c.name: _default(c.default) for c in missing})
    return {union: merged, **apart} if merged else apart


def _fillable(column: Any) -> bool:
    """Whether leaving the column out of an insert is the same as giving ``_default``."""
    if column.server_default is not None:
        return False
    return column.default is not None or bool(column.nullable)


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


def _copy_upsert(
    session: Session,
    table: Any,
    batch: list[dict[str, Any]],
    keys: list[str],
    update: Sequence[str] | None,
) -> int:
    """PostgreSQL: the rows by COPY into a temporary table, then one INSERT … ON CONFLICT.

    The rows end up as by executemany (a key there kept or its ``update`` columns set;
    of a key given twice the first stays, or the last updates), for a fraction of the
    client's CPU: executemany binds and sends each row, COPY streams them.
    """
    columns = list(batch[0])
    if update is None:
        update = [c for c in columns if c not in keys]
    # The model's own defaults for the columns not given, as a Core insert fills them in.
    defaults = {
        c.name: c.default
        for c in table.columns
        if c.name not in batch[0] and c.default is not None and not c.default.is_sequence
    }
    columns += list(defaults)
    # INSERT … SELECT may not touch a row twice: keep one row per key, as executemany would.
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in batch:
        key = tuple(row[k] for k in keys)
        if update or key not in unique:
            unique[key] = row
    sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in update)
    conflict = f"DO UPDATE SET {sets}" if update else "DO NOTHING"
    rows = (row | {c: _default(d) for c, d in defaults.items()} for row in unique.values())
    with _staged(session, table, columns, rows) as (cur, stage, names):
        cur.execute(
            f'WITH staged AS (DELETE FROM "{stage}" RETURNING {names}) '
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM staged '
            "ON CONFLICT (" + ", ".join(f'"{k}"' for k in keys) + f") {conflict}"
        )
    return len(batch)


def update_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> int:
    """Set the given columns of existing rows, found by primary key (one UPDATE, many rows).

    Every row names the same columns; a row that is not there raises ``StaleDataError``.
    On PostgreSQL, from ``COPY_FROM`` rows on, they travel by COPY and are applied by
    one ``UPDATE … FROM``; otherwise by the ORM's executemany.
    """
    table = model.__table__  # type: ignore[attr-defined]
    if not rows:
        return 0
    if session.get_bind().dialect.name != "postgresql" or len(rows) < COPY_FROM:
        session.execute(update_stmt(model), rows)
        return len(rows)
    columns = list(rows[0])
    keys = [c.name for c in table.primary_key.columns]
    sets = ", ".join(f'"{c}" = s."{c}"' for c in columns if c not in keys)
    match = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
    # UPDATE … FROM takes any one of a key's rows: keep the last, as executemany ends with.
    last = {tuple(row[k] for k in keys): row for row in rows}
    with _staged(session, table, columns, last.values()) as (cur, stage, _names):
        cur.execute(f'UPDATE "{table.name}" t SET {sets} FROM "{stage}" s WHERE {match}')
        matched = cur.rowcount
        cur.execute(f'DELETE FROM "{stage}"')
    if matched != len(last):  # as the ORM's executemany says it
        raise StaleDataError(
            f"UPDATE statement on table '{table.name}' expected to update "
            f"{len(last)} row(s); {matched} were matched."
        )
    return len(rows)


@contextmanager
def _staged(
    session: Session, table: Any, columns: list[str], rows: Iterable[dict[str, Any]]
) -> Iterator[tuple[Any, str, str]]:
    """The rows COPYed into a temporary table of ``columns``: (cursor, its name, columns).

    The table is kept by the connection, one per table and column set, without
    constraints; whoever reads it empties it again in the same transaction.
    """
    dialect = session.get_bind().dialect
    bind = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    names = ", ".join(f'"{c}"' for c in columns)
    stage = f"_stage_{table.name}_{zlib.crc32(names.encode()):08x}"
    session.flush()  # what the session holds goes first, as an executemany's autoflush would
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
            f'AS SELECT {names} FROM "{table.name}" WITH NO DATA'
        )
        with cur.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(
                    [p(row[c]) if p else row[c] for c, p in zip(columns, bind, strict=True)]
                )
        yield cur, stage, names


def _default(default: Any) -> Any:
    """A column default's value for one row (a constant, or its function called; None: NULL)."""
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg
