"""``db.upsert`` gives the same rows on every path: executemany, and COPY on PostgreSQL.

A town's outbox and moves are written by COPY into a staging table on PostgreSQL
(``db.COPY_FROM`` rows and more); fewer rows, and SQLite, go by executemany. Each
case below runs below and above that size, on SQLite and (when configured) on
PostgreSQL, and must come out the same: a key already there left alone or updated
as asked, a key given twice resolved as executemany does, the model's defaults
filled in, JSON and time columns as given, and what the session holds written first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import select

from sanqing import db
from sanqing.models import FeedRecord, Household, Level, SafetyRating, Town, Village

SIZES = [3, db.COPY_FROM + 7]
AT = datetime(2026, 7, 21, 10, 30, tzinfo=UTC)


def _record(i: int, **over: Any) -> dict[str, Any]:
    # Only the columns without a default: the rest is the model's to fill in.
    return {
        "id": f"cma|{i:04d}",
        "identifier": f"{i:04d}",
        "source_format": "cap",
        "msg_type": "Alert",
        "status": "Actual",
        "warning": {
            "事件": "暴雨橙色预警",
            "区域": ["鸡峰镇", "小川镇"],
            "n": i,
            "x": {"深": [1, 2]},
        },
        "action": "activate",
        "town_codes": ["621221100", f"T{i}"],
        "village_codes": [],
        "received_at": AT + timedelta(minutes=i),
    } | over


def _records() -> dict[str, FeedRecord]:
    with db.session_scope() as s:
        return {r.id: r for r in s.exec(select(FeedRecord))}


@pytest.mark.parametrize("n", SIZES)
def test_new_rows_are_written_whole_with_the_models_defaults(db_url: str, n: int) -> None:
    with db.session_scope() as s:
        assert db.upsert(s, FeedRecord, [_record(i) for i in range(n)]) == n
    got = _records()
    assert len(got) == n
    r = got["cma|0002"]
    assert r.warning == {
        "事件": "暴雨橙色预警",
        "区域": ["鸡峰镇", "小川镇"],
        "n": 2,
        "x": {"深": [1, 2]},
    }
    assert r.town_codes == ["621221100", "T2"]
    assert r.received_at == AT + timedelta(minutes=2)
    # The columns' defaults, not given in the rows.
    assert (r.sender, r.reason, r.done, r.ended) == ("", "", True, False)
    assert (r.drill, r.level, r.targets, r.village_codes) == (None, None, None, [])


@pytest.mark.parametrize("n", SIZES)
def test_a_key_already_written_is_left_alone_unless_asked(db_url: str, n: int) -> None:
    with db.session_scope() as s:
        db.upsert(s, FeedRecord, [_record(i) for i in range(n)])
    changed = [_record(i, action="escalate", level=Level.I, reason="升级") for i in range(n)]
    with db.session_scope() as s:
        db.upsert(s, FeedRecord, changed)
    assert {r.action for r in _records().values()} == {"activate"}
    with db.session_scope() as s:
        db.upsert(s, FeedRecord, changed, update=["action", "level"])
    got = _records()
    assert {(r.action, r.level) for r in got.values()} == {("escalate", Level.I)}
    assert {r.reason for r in got.values()} == {""}  # not among the columns to update


@pytest.mark.parametrize("n", SIZES)
def test_a_key_given_twice_first_stays_or_last_updates(db_url: str, n: int) -> None:
    rows = [_record(i) for i in range(n)]
    twice = [*rows, _record(0, action="second")]
    with db.session_scope() as s:
        db.upsert(s, FeedRecord, twice)
    assert _records()["cma|0000"].action == "activate"
    with db.session_scope() as s:
        db.upsert(s, FeedRecord, [_record(1, action="x"), _record(1, action="y")], update=None)
        db.upsert(s, FeedRecord, [*twice[:-1], _record(0, action="last")], update=["action"])
    got = _records()
    assert got["cma|0000"].action == "last"
    assert got["cma|0001"].action == "activate"  # the n-row upsert after it set it back
    assert len(got) == n


@pytest.mark.parametrize("n", SIZES)
def test_what_the_session_holds_is_written_first(db_url: str, n: int) -> None:
    """Households name their village: the town and village added just before must exist."""
    with db.session_scope() as s:
        s.add(Town(code="621221999", key="t", name="测试镇", county_code="621221",
                   county="成县", office="测试镇人民政府", duty_phone="0939-0", lat=33.7, lon=105.7))  # fmt: skip
        s.add(Village(code="621221999001", town_code="621221999", name="甲村", lat=33.7, lon=105.7))
        rows = [
            {"code": f"H{i:04d}", "village_code": "621221999001", "group_name": "一社",
             "head_name": f"户主{i}", "members": 3, "address": "一社", "lat": 33.7, "lon": 105.7,
             "house_type": "砖混", "safety_rating": SafetyRating.A}
            for i in range(n)
        ]  # fmt: skip
        db.upsert(s, Household, rows)
    with db.session_scope() as s:
        got = list(s.exec(select(Household)))
    assert len(got) == n
    assert {(h.card_issued, h.five_guarantee, h.safety_rating) for h in got} == {
        (True, False, SafetyRating.A)
    }


@pytest.mark.parametrize("n", SIZES)
def test_update_rows_sets_only_the_columns_given(db_url: str, n: int) -> None:
    with db.session_scope() as s:
        db.upsert(s, FeedRecord, [_record(i) for i in range(n)])
    later = AT + timedelta(days=1)
    changes = [{"id": f"cma|{i:04d}", "done": False, "targets": [f"A{i}"]} for i in range(n)]
    changes.append({"id": "cma|0000", "done": True, "targets": ["last"]})  # the last stands
    with db.session_scope() as s:
        db.update_rows(s, FeedRecord, changes)
        db.update_rows(s, FeedRecord, [])
    got = _records()
    assert len(got) == n
    assert (got["cma|0000"].done, got["cma|0000"].targets) == (True, ["last"])
    assert (got["cma|0001"].done, got["cma|0001"].targets) == (False, ["A1"])
    assert {r.action for r in got.values()} == {"activate"}
    assert got["cma|0001"].received_at == AT + timedelta(minutes=1) != later
    # A row that is not there is an error on every path, and nothing of the call stays.
    again = [{"id": f"cma|{i:04d}", "done": True, "targets": ["B"]} for i in range(n)]
    with pytest.raises(StaleDataError), db.session_scope() as s:
        db.update_rows(s, FeedRecord, [*again, {"id": "cma|9999", "done": True, "targets": []}])
    assert _records()["cma|0001"].targets == ["A1"]


@pytest.mark.parametrize("n", SIZES)
def test_rows_of_several_column_sets_are_written_as_each_would_be_alone(
    db_url: str, n: int
) -> None:
    # Insert-only rows that leave out different columns (a notice with a payload and
    # one without) go as one column set on PostgreSQL, the missing ones filled with
    # the model's default or NULL: the rows must read as if each set went alone.
    rows = [
        _record(i, sender="气象台", drill=True) if i % 2 else _record(i, targets=["村"])
        for i in range(n)
    ]
    rows.append(_record(0, sender="second of a key: left alone"))
    with db.session_scope() as s:
        assert db.upsert(s, FeedRecord, rows) == n + 1
    got = _records()
    assert len(got) == n
    odd, even = got["cma|0001"], got["cma|0002"]
    assert (odd.sender, odd.drill, odd.targets, odd.done) == ("气象台", True, None, True)
    assert (even.sender, even.drill, even.targets, even.done) == ("", None, ["村"], True)
    assert got["cma|0000"].sender == "" and got["cma|0000"].targets == ["村"]
