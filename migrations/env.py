"""Alembic's entry: the app's tables, on the connection ``init_db`` gives or on the settings' database.

``init_db`` (``sanqing.migrate.bring_to_head``) passes its locked connection in the
config's attributes. From the command line (``alembic -c alembic.ini …``: revision
--autogenerate, upgrade, check) the database is ``SANQING_DATABASE_URL``, else the
data directory's SQLite file, taken under the same lock as ``init_db`` takes.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

from sanqing import models as _models  # noqa: F401  (registers the tables)
from sanqing.migrate import locked, migration_engine, render_item
from sanqing.settings import get_settings


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite: an ALTER it lacks becomes a copy of the table
        render_item=render_item,
        user_module_prefix="sa.",
    )
    with context.begin_transaction():  # inside the caller's transaction: nothing of its own
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    engine = migration_engine(get_settings().effective_database_url)
    try:
        with locked(engine) as conn:
            run(conn)
    finally:
        engine.dispose()
