"""The deliverer's "anything to do?": a due message, or a 叫应 deadline crossed since the last look."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from sanqing.db import session_scope
from sanqing.delivery.due import work_due
from sanqing.models import (
    Activation,
    ActivationStatus,
    Channel,
    Level,
    Notice,
    NoticeStatus,
    utcnow,
)
from sanqing.whatif import simulate

WITHIN = timedelta(minutes=15)


def _activation() -> str:
    simulate("jifeng", level=Level.IV, warning=None)
    with session_scope() as s:
        return s.exec(select(Activation.id)).one()


def _notice(aid: str, n: int, **values: object) -> None:
    row = {
        "id": f"{aid}:sms:test:{n}",
        "activation_id": aid,
        "channel": Channel.SMS,
        "purpose": "test",
        "audience": "resident",
        "recipient": f"h{n}",
        "locale": "zh-CN",
        "subject": "s",
        "body": "b",
        "created_at": utcnow(),
    } | values
    with session_scope() as s:
        s.add(Notice(**row))


def _due(now: datetime, since: datetime | None = None) -> bool:
    return work_due(now=now, since=since or now - timedelta(seconds=30), ack_within=WITHIN)


def test_nothing_pending_nothing_due(db_url: str) -> None:
    _activation()
    assert not _due(utcnow())


def test_a_pending_message_is_due_once_its_retry_time_has_come(db_url: str) -> None:
    aid = _activation()
    now = utcnow()
    _notice(aid, 1, next_attempt_at=now + timedelta(minutes=5))
    _notice(aid, 2, lease_until=now + timedelta(minutes=1))  # another deliverer holds it
    _notice(aid, 3, status=NoticeStatus.SENT)
    assert not _due(now)
    assert _due(now + timedelta(minutes=5))


def test_an_unanswered_task_is_due_when_a_deadline_passes_between_two_looks(db_url: str) -> None:
    aid = _activation()
    now = utcnow()
    task = {
        "channel": Channel.TASK_LIST,
        "purpose": "tasks",
        "audience": "cadre",
        "status": NoticeStatus.SENT,
        "sent_at": now - timedelta(minutes=14, seconds=50),
    }
    _notice(aid, 1, **task)
    assert not _due(now)  # 10 s before its deadline
    assert _due(now + timedelta(seconds=20))  # the deadline fell between the two looks
    # between two deadlines: nothing new to chase
    later = now + timedelta(minutes=5)
    assert not _due(later, since=later - timedelta(seconds=30))
    assert _due(now + timedelta(minutes=15, seconds=20), since=now + timedelta(minutes=15))
    with session_scope() as s:  # answered: never again
        row = s.get(Notice, f"{aid}:sms:test:1")
        assert row is not None
        row.acknowledged_at = now
        s.add(row)
    assert not _due(now + timedelta(seconds=20))


def test_nobody_is_chased_after_the_stand_down(db_url: str) -> None:
    aid = _activation()
    now = utcnow()
    _notice(
        aid,
        1,
        channel=Channel.TASK_LIST,
        audience="cadre",
        status=NoticeStatus.SENT,
        sent_at=now - timedelta(minutes=14, seconds=50),
    )
    with session_scope() as s:
        act = s.get(Activation, aid)
        assert act is not None
        act.status = ActivationStatus.STOOD_DOWN
        s.add(act)
    assert not _due(now + timedelta(seconds=20))
