"""Two processes starting at once on the same database: one migrates, the other waits.

Each test can fail: without the lock (PostgreSQL's advisory lock, SQLite's BEGIN
IMMEDIATE) the waiting process is never seen waiting, or the processes collide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import Connection, text

from sanqing.migrate import locked, migration_engine
from sanqing.settings import REPO_ROOT
from tests.unit.test_migrations import (
    HEAD,
    at_head_like_the_models,
    empty_url,  # noqa: F401  (the fixture)
    previous_release,
    previous_release_rows,
    rows_kept,
    run,
)

#: A process starting: imported (says so), then init_db.
INIT_DB = "from sanqing.db import init_db; print('imported', flush=True); init_db()"


def _init_db_in(url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANQING_")}
    env |= {"SANQING_DATABASE_URL": url, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", INIT_DB],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_process_waits_for_the_first_ones_migration(
    empty_url: str,  # noqa: F811
) -> None:
    previous_release(empty_url)
    run(empty_url, previous_release_rows)
    engine = migration_engine(empty_url)
    try:
        with locked(engine) as conn:  # the first process: holds the lock while it migrates
            second = _init_db_in(empty_url)
            assert second.stdout is not None and second.stdout.readline() == "imported\n"
            assert waiting_for_the_lock(empty_url, second), second.communicate()
            bring_to_head_on(conn)
    finally:
        engine.dispose()
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    run(empty_url, at_head_like_the_models)
    run(empty_url, rows_kept)


def waiting_for_the_lock(url: str, process: subprocess.Popen[str]) -> bool:
    """Whether ``process`` waits for the migration lock (PostgreSQL: seen in pg_locks).

    SQLite shows no waiter: the process is given time to look and reach the lock, and
    must still be running after it.
    """
    if url.startswith("sqlite"):
        time.sleep(3)
        return process.poll() is None
    waiting = text("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if run(url, lambda conn: conn.execute(waiting).scalar_one()):
            return True
        time.sleep(0.1)
    return False


def bring_to_head_on(conn: Connection) -> None:
    """What ``bring_to_head`` does once it holds the lock (its private step, on purpose)."""
    from sanqing.migrate import _migrate

    _migrate(conn)


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "previous-release"])
def test_processes_starting_at_once_migrate_once(
    empty_url: str,  # noqa: F811
    previous: bool,
) -> None:
    if previous:
        previous_release(empty_url)
        run(empty_url, previous_release_rows)
    started = [_init_db_in(empty_url) for _ in range(4)]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in started]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], results
    versions = run(empty_url, lambda c: c.execute(text("SELECT * FROM alembic_version")).all())
    assert [tuple(v) for v in versions] == [(HEAD,)]
    run(empty_url, at_head_like_the_models)
    if previous:
        run(empty_url, rows_kept)
