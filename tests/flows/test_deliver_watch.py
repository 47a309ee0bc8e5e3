"""The control room's deliverer stays on (送达值守): what arrives while it watches goes out."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import select

from flows.deliver_outbox import deliver_outbox
from sanqing.db import session_scope
from sanqing.models import Activation, Channel, Level, Notice, NoticeStatus, utcnow
from sanqing.whatif import simulate

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def test_a_message_written_while_the_deliverer_watches_is_sent_in_the_same_run(
    db_url: str,
) -> None:
    simulate("jifeng", level=Level.IV, warning=None)
    with session_scope() as s:
        aid = s.exec(select(Activation.id)).one()

    def write_later() -> None:
        time.sleep(2)
        with session_scope() as s:
            s.add(
                Notice(
                    id=f"{aid}:sms:late:h1",
                    activation_id=aid,
                    channel=Channel.SMS,
                    purpose="late",
                    audience="resident",
                    recipient="h1",
                    address="13800138000",
                    locale="zh-CN",
                    subject="s",
                    body="请立即转移",
                    created_at=utcnow(),
                )
            )

    writer = threading.Thread(target=write_later)
    writer.start()
    started = time.monotonic()
    counts = deliver_outbox(watch_minutes=6 / 60, poll_s=1)
    writer.join()
    assert time.monotonic() - started >= 5  # it stayed on
    assert counts["sms"]["sent"] == 1 and counts["sms"]["pending"] == 0
    with session_scope() as s:
        row = s.get(Notice, f"{aid}:sms:late:h1")
        assert row is not None and row.status == NoticeStatus.SENT
