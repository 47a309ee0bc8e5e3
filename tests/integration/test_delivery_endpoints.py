"""Delivery through real local HTTP servers that fail on purpose.

An SMS gateway and a county receiver that de-duplicate on ``Idempotency-Key``, and a
WeCom-style group robot that does not, all on 127.0.0.1. They answer 500s, hang past
the client's timeout, and one deliverer crashes between a send and its record while
another runs beside it. In the end every message is delivered exactly once per key
(or reported failed), and the counts add up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from sanqing import reporting, response
from sanqing.db import session_scope
from sanqing.delivery import deliver_outbox, outbox_counts
from sanqing.delivery.channels.config import senders_from_settings
from sanqing.models import Notice, utcnow
from sanqing.outbox import notices
from sanqing.plans import Level, load_plan
from sanqing.registry import ensure_registry, find_town
from sanqing.settings import get_settings
from sanqing.warning import WarningInfo
from tests.fakes import FakeEndpoint

pytestmark = pytest.mark.integration

HEBA, SHIMEN = "621221106204", "621221106202"


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, FakeEndpoint]]:
    with (
        FakeEndpoint(dedupe=True) as sms,
        FakeEndpoint(dedupe=False) as robot,
        FakeEndpoint(dedupe=True) as county,
    ):
        for name, value in {
            "SANQING_SMS_URL": sms.url("/sms/send"),
            "SANQING_WECOM_WEBHOOK_URL": robot.url("/cgi-bin/webhook/send?key=test"),
            "SANQING_COUNTY_REPORT_URL": county.url("/reports"),
            "SANQING_CHANNEL_TIMEOUT_S": "0.5",
            "SANQING_SMS_RATE_PER_S": "0",
            "SANQING_ROBOT_RATE_PER_S": "0",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield {"sms": sms, "wechat": robot, "county": county}
    get_settings.cache_clear()


def fill_outbox() -> str:
    """A level-II response of two villages: SMS, group messages, lists, cards, a report."""
    ensure_registry("jifeng")
    plan = load_plan()
    with session_scope() as s:
        act = response.activate_plan(
            session=s,
            town=find_town(s, "jifeng"),
            plan=plan,
            level=Level.II,
            warning=WarningInfo(
                identifier="W-DELIVERY", colour="orange", village_codes=[HEBA, SHIMEN]
            ),
            drill=False,
        ).activation_id
        for v in (HEBA, SHIMEN):
            response.plan_relocations(session=s, activation_id=act, village_code=v, plan=plan)
        response.assign_town_shelters(session=s, activation_id=act, plan=plan)
        for v in (HEBA, SHIMEN):
            notices.issue_notices(
                session=s, activation_id=act, village_code=v, plan=plan, locale="zh-CN"
            )
        reporting.report_upward(session=s, activation_id=act, plan=plan)
    return act


def rows(act: str, channel: str) -> list[Notice]:
    with session_scope() as s:
        return list(
            s.exec(select(Notice).where(Notice.activation_id == act, Notice.channel == channel))
        )


def test_failing_endpoints_still_deliver_each_message_once_and_the_counts_add_up(
    endpoints: dict[str, FakeEndpoint], db_url: str
) -> None:
    act = fill_outbox()
    sms_rows, group_rows = rows(act, "sms"), rows(act, "wechat")
    assert len(sms_rows) > 100 and len(group_rows) == 2 and len(rows(act, "county")) == 1
    sms, robot, county = endpoints["sms"], endpoints["wechat"], endpoints["county"]
    sms.fail_next(2, status=500)
    sms.delay_next(1, 1.5)  # longer than the 0.5 s timeout: the client gives up, the fake delivers
    robot.fail_next(1, status=500)
    county.fail_next(2, status=503)

    clock = [utcnow()]
    senders = senders_from_settings()
    crashed = threading.Event()

    class Crash(BaseException):
        """The deliverer dies between a send and its record."""

    def crash_once(n: Notice) -> None:
        if n.channel == "sms" and not crashed.is_set():
            crashed.set()
            raise Crash

    def deliverer(owner: str, hook: Any) -> None:
        with contextlib.suppress(Crash):  # the thread dies as the process would
            deliver_outbox(senders, now=lambda: clock[0], owner=owner, batch=25, after_send=hook)

    # two deliverers at once; the first to get an SMS through crashes before recording it
    threads = [
        threading.Thread(target=deliverer, args=(f"deliverer-{i}", crash_once)) for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert crashed.is_set()
    # later passes, the clock moved past the backoff and the crashed lease
    for _ in range(6):
        clock[0] += timedelta(minutes=20)
        deliver_outbox(senders, now=lambda: clock[0], owner="later")
    for sender in senders.values():
        sender.close()

    # exactly once per key at the gateways that de-duplicate
    assert set(sms.delivered) == {r.id for r in sms_rows}
    assert sms.duplicates >= 1  # the crashed send (and timed-out ones) came again, same key
    assert set(county.delivered) == {r.id for r in rows(act, "county")}
    report = next(iter(county.delivered.values()))
    assert report["kind"] == "initial" and report["seq"] == 0 and "首报" in report["title"]
    # the robot got each group message, and (no DingTalk set) the cadres' task lists; it has
    # no key to de-duplicate on, so a crash between its post and the record could repeat one
    posts = [r.body["text"]["content"] for r in robot.requests if r.status == 200]
    robot_rows = group_rows + rows(act, "task_list")
    assert sorted(set(posts)) == sorted(r.body for r in robot_rows)
    assert len(posts) - len(robot_rows) <= 1
    # every row ended: sent, and the counts add up per channel
    counts = outbox_counts(act)
    for channel, got in counts.items():
        total = len(rows(act, channel))
        assert sum(got.values()) == total, channel
        assert got.get("pending", 0) == 0 and got.get("sent") == total, (channel, got)
    # the failures were tried again: the county report on its third attempt (two 503s)
    assert [n.attempts for n in rows(act, "county")] == [3]
    assert sum(n.attempts > 1 for n in rows(act, "sms")) >= 2
    # a phone number travels only in the "to" field
    assert all(r.body["to"] and r.body["to"] not in r.body["text"] for r in sms.requests)


def test_a_gateway_that_refuses_for_good_fails_the_rows_and_says_why(
    endpoints: dict[str, FakeEndpoint], db_url: str
) -> None:
    act = fill_outbox()
    sms = endpoints["sms"]
    sms.fail_next(10_000, status=400, body={"error": "bad sender"})
    senders = senders_from_settings()
    stats = deliver_outbox(senders, now=utcnow)
    for sender in senders.values():
        sender.close()
    failed = [n for n in rows(act, "sms") if n.status == "failed"]
    assert len(failed) == len(rows(act, "sms")) == stats.by_channel["sms"]["failed"]
    assert all("400" in (n.last_error or "") and n.attempts == 1 for n in failed)
    # the other channels went all the same
    assert {n.status for n in rows(act, "county")} == {"sent"}
    with session_scope() as s:
        assert (
            s.exec(
                select(Notice).where(
                    Notice.activation_id == act,
                    col(Notice.channel).in_(["card", "door_visit"]),
                    Notice.status != "sent",
                )
            ).first()
            is None
        )
