"""Test set-up: a fresh data directory and database per test, quiet Prefect, optional PostgreSQL.

When ``SANQING_TEST_DATABASE_URL`` is set (``.ci/run`` sets it when the local
PostgreSQL answers), every test that uses the ``db`` fixture runs twice: on a
temporary SQLite file and on that PostgreSQL database (in a schema of its own).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

# Prefect reads these at import time: set them before anything imports prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="sanqing-test-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# INFO: the privacy test reads the flow logs back from the API.
os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

import pytest
from sqlalchemy import create_engine, text

from sanqing import db
from sanqing.settings import get_settings

TEST_PG_URL = os.environ.get("SANQING_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if TEST_PG_URL else ["sqlite"]


def _pg_schema_url(base_url: str) -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


def _drop_pg_schema(base_url: str, schema: str) -> None:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point sanqing at a fresh data directory (SQLite file) for every test."""
    d = tmp_path / "data"
    monkeypatch.setenv("SANQING_DATA_DIR", str(d))
    monkeypatch.delenv("SANQING_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    db.reset_engines()
    yield d
    db.reset_engines()
    get_settings.cache_clear()


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The app database for this test: SQLite, and PostgreSQL too when configured."""
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'sanqing.db'}"
        schema = None
    else:
        assert TEST_PG_URL is not None
        url, schema = _pg_schema_url(TEST_PG_URL)
    monkeypatch.setenv("SANQING_DATABASE_URL", url)
    get_settings.cache_clear()
    db.reset_engines()
    db.init_db()
    yield url
    db.reset_engines()
    if schema is not None and TEST_PG_URL is not None:
        _drop_pg_schema(TEST_PG_URL, schema)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness for the whole pytest session (it costs ~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
