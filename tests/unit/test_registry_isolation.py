"""Shelters' isolation places (隔离安置) in the registry, and the 卫生院 that is never a shelter."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from sanqing import db
from sanqing.models import Shelter
from sanqing.registry import load_town_dir
from sanqing.rules.shelters import is_medical_unit
from sanqing.settings import REPO_ROOT

JIFENG_DIR = REPO_ROOT / "config" / "towns" / "jifeng"


@pytest.fixture
def jifeng_copy(tmp_path: Path) -> Path:
    town_dir = tmp_path / "jifeng"
    shutil.copytree(JIFENG_DIR, town_dir)
    return town_dir


def _table(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _write(path: Path, table: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(table)


def test_the_sample_gives_some_schools_and_committees_isolation_places(db_url: str) -> None:
    with db.session_scope() as session:
        assert not load_town_dir(session, JIFENG_DIR).problems
    with db.session_scope() as session:
        shelters = list(session.exec(select(Shelter)))
    with_rooms = [s for s in shelters if s.isolation_places]
    assert len(with_rooms) >= 5 and sum(s.isolation_places for s in with_rooms) >= 60
    assert all(s.kind in ("学校", "村委会") and 10 <= s.isolation_places <= 20 for s in with_rooms)
    assert all(s.isolation_places == 0 for s in shelters if s.kind == "文化广场")


def test_a_ledger_without_the_column_loads_with_none(db_url: str, jifeng_copy: Path) -> None:
    table = _table(jifeng_copy / "shelters.csv")
    drop = table[0].index("isolation_places")
    _write(jifeng_copy / "shelters.csv", [r[:drop] + r[drop + 1 :] for r in table])
    with db.session_scope() as session:
        assert not load_town_dir(session, jifeng_copy).problems
    with db.session_scope() as session:
        assert {s.isolation_places for s in session.exec(select(Shelter))} == {0}


def test_a_negative_count_and_the_clinic_as_shelter_are_refused(
    db_url: str, jifeng_copy: Path
) -> None:
    table = _table(jifeng_copy / "shelters.csv")
    col = {name: i for i, name in enumerate(table[0])}
    table[1][col["isolation_places"]] = "-3"
    clinic = list(table[2])
    clinic[col["code"]], clinic[col["name"]] = "621221106201-S9", "鸡峰镇卫生院"
    table.append(clinic)
    _write(jifeng_copy / "shelters.csv", table)
    with db.session_scope() as session:
        report = load_town_dir(session, jifeng_copy)
    found = {(p.row, p.column) for p in report.problems}
    assert found == {(2, "isolation_places"), (len(table), "name")}
    assert "卫生院" in str(report.problems[-1])


def test_an_older_database_gains_the_column(db_url: str) -> None:
    with db.session_scope() as session:
        load_town_dir(session, JIFENG_DIR)
    with db.session_scope() as session:  # from before the column (and Alembic)
        session.execute(text("ALTER TABLE shelter DROP COLUMN isolation_places"))
        session.execute(text("DROP TABLE alembic_version"))
    db.init_db()
    (column,) = [
        c
        for c in inspect(db.get_engine()).get_columns("shelter")
        if c["name"] == "isolation_places"
    ]
    assert "0" in str(column["default"])
    with db.session_scope() as session:
        assert {s.isolation_places for s in session.exec(select(Shelter))} == {0}


def test_what_counts_as_the_medical_unit() -> None:
    assert is_medical_unit("鸡峰镇卫生院", "学校", "鸡峰镇卫生院")
    assert is_medical_unit("某某", "卫生院", None)
    assert not is_medical_unit("鸡峰镇中心小学", "学校", "鸡峰镇卫生院")
