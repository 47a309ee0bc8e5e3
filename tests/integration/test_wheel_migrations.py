"""A wheel install upgrades a data directory of the previous release with the revisions it ships."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sanqing.settings import REPO_ROOT
from tests.integration.test_wheel import unpacked  # noqa: F401  (the wheel, built once here)

pytestmark = pytest.mark.integration

D8DFC12_SQLITE = REPO_ROOT / "tests" / "data" / "schema" / "d8dfc12.sqlite.sql"

PROBE = """
import json, sqlite3, sys
from sanqing.db import init_db
from sanqing.migrate import migrations_dir
init_db()
with sqlite3.connect(sys.argv[1]) as conn:
    print(json.dumps({
        "migrations": str(migrations_dir()),
        "version": conn.execute("SELECT version_num FROM alembic_version").fetchall(),
        "shelter_columns": [r[1] for r in conn.execute("PRAGMA table_info(shelter)")],
        "towns": conn.execute("SELECT code FROM town").fetchall(),
    }))
"""


def test_a_wheel_upgrades_a_previous_release_data_directory(
    unpacked: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "sanqing.db") as conn:
        conn.executescript(D8DFC12_SQLITE.read_text(encoding="utf-8"))
        conn.execute(
            "INSERT INTO town VALUES ('T1', 't1', '镇', 'C', '县', '办', '1', 34.5, 105.5, NULL, NULL)"
        )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SANQING_")}
    environ |= {"PYTHONPATH": str(unpacked), "PYTHONSAFEPATH": "1", "SANQING_DATA_DIR": str(data)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(data / "sanqing.db")],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["migrations"] == str(unpacked / "sanqing" / "_data" / "migrations")
    assert found["version"] == [["0002"]]
    assert "isolation_places" in found["shelter_columns"]
    assert found["towns"] == [["T1"]]
