"""Channels never starve each other, and reports upward go first (real local gateways).

An SMS gateway that refuses every third request, with hundreds of messages to send,
beside the county receiver: the county's 首报 goes before the SMS channel is far
along. A channel whose gateway hangs past the timeout does not hold up another.
``deliver_until_settled`` and ``sanqing deliver --settle N`` drain what was backed
off, and each key reaches the de-duplicating gateways exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from sanqing import reporting
from sanqing.db import session_scope
from sanqing.delivery import deliver_outbox, deliver_until_settled, outbox_counts
from sanqing.delivery.channels.sms_gateway import SmsGateway
from sanqing.delivery.channels.wecom import WeComRobot
from sanqing.models import Notice, utcnow
from sanqing.plans import Level, load_plan
from sanqing.settings import get_settings
from tests.fakes import FakeEndpoint
from tests.unit.test_delivery import put_notices
from tests.unit.test_response import activate

pytestmark = pytest.mark.integration

#: Enough SMS to keep the gateway busy for seconds (a drill sends ~1,400; 500 keep CI short).
MANY_SMS = 500
#: Backoff short enough that a test can wait for every retry (the default starts at 5 s).
QUICK_BACKOFF = "[0.2, 0.4, 0.8]"


@pytest.fixture
def gateways(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, FakeEndpoint]]:
    """An SMS gateway that refuses every third request, and the county receiver."""
    with FakeEndpoint(dedupe=True) as sms, FakeEndpoint(dedupe=True) as county:
        sms.fail_every(3, status=503)
        for name, value in {
            "SANQING_SMS_URL": sms.url("/sms/send"),
            "SANQING_COUNTY_REPORT_URL": county.url("/reports"),
            "SANQING_CHANNEL_TIMEOUT_S": "5",
            # a gateway's limit; 1,400 SMS at the default 20/s would make a 70 s test
            "SANQING_SMS_RATE_PER_S": "100",
            "SANQING_DELIVERY_BACKOFF_S": QUICK_BACKOFF,
            # every third request fails: a few keys fail six times in a row
            "SANQING_DELIVERY_MAX_ATTEMPTS": "12",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield {"sms": sms, "county": county}
    get_settings.cache_clear()


def outbox_ids(act: str, channel: str) -> set[str]:
    with session_scope() as s:
        return set(
            s.exec(select(Notice.id).where(Notice.activation_id == act, Notice.channel == channel))
        )


def sms_then_initial_report(n_sms: int) -> tuple[str, list[str]]:
    """``n_sms`` SMS in the outbox, then the 首报 written after them (as a response does)."""
    act = activate(Level.II)
    now = utcnow()
    sms_ids = put_notices(act, n_sms, at=now)
    with session_scope() as s:
        reporting.report_upward(
            session=s, activation_id=act, plan=load_plan(), now=now + timedelta(seconds=1)
        )
    return act, sms_ids


def assert_each_key_accepted_once(endpoint: FakeEndpoint, keys: set[str]) -> None:
    assert set(endpoint.delivered) == keys
    assert set(endpoint.accepted.values()) == {1}
    assert endpoint.duplicates == 0  # nothing was sent again after the gateway took it


def test_the_county_report_goes_first_and_every_key_arrives_once(
    gateways: dict[str, FakeEndpoint], db_url: str
) -> None:
    sms, county = gateways["sms"], gateways["county"]
    act, sms_ids = sms_then_initial_report(MANY_SMS)
    county_ids = outbox_ids(act, "county")
    assert len(county_ids) == 1

    deliver_until_settled(activation_id=act, settle_s=300)

    (report,) = [r for r in county.requests if r.status == 200]
    assert report.body["kind"] == "initial"
    # reports upward go first: the 首报 reached the county before the 100th SMS was tried
    assert report.seq < sms.requests[99].seq
    # every third SMS request failed, and every key still arrived once
    assert sum(r.status == 503 for r in sms.requests) >= MANY_SMS // 3
    assert_each_key_accepted_once(sms, set(sms_ids))
    assert_each_key_accepted_once(county, county_ids)
    assert outbox_counts(act)["sms"] == {"failed": 0, "pending": 0, "sent": MANY_SMS}
    assert outbox_counts(act)["county"] == {"failed": 0, "pending": 0, "sent": 1}


def test_a_hanging_gateway_does_not_hold_up_another_channel(db_url: str) -> None:
    act = activate(Level.II)
    start = utcnow()
    hung_ids = put_notices(act, 5, channel="sms", at=start)  # older: first in line
    group_ids = put_notices(act, 20, channel="wechat", at=start + timedelta(seconds=1))
    with FakeEndpoint(dedupe=True) as hung, FakeEndpoint() as robot:
        hung.delay_next(100, 10)  # answers long after the client gave up
        senders = {
            "sms": SmsGateway(hung.url("/sms"), timeout_s=1.5),
            "wechat": WeComRobot(robot.url("/robot")),
        }
        try:
            stats = deliver_outbox(senders, activation_id=act)
        finally:
            for sender in senders.values():
                sender.close()
    assert set(robot.delivered) == set(group_ids)
    # the robot had everything before the hanging gateway's second request was even made
    assert len(hung.requests) == 3 and "sms" in stats.channels_down
    assert max(r.seq for r in robot.requests) < hung.requests[1].seq
    with session_scope() as s:
        rows = list(s.exec(select(Notice).where(col(Notice.id).in_(hung_ids))))
    assert {n.status for n in rows} == {"pending"}  # tried again later, never dropped
    assert all("timed out" in (n.last_error or "") for n in rows if n.attempts)


def test_sanqing_deliver_settle_drains_what_was_backed_off(
    gateways: dict[str, FakeEndpoint], db_url: str
) -> None:
    from cli.main import app

    sms, county = gateways["sms"], gateways["county"]
    act, sms_ids = sms_then_initial_report(300)
    # a first pass (the schedule's): every third SMS refused, those backed off
    from sanqing.delivery.channels.config import senders_from_settings

    senders = senders_from_settings()
    deliver_outbox(senders, activation_id=act)
    for sender in senders.values():
        sender.close()
    backed_off = outbox_counts(act)["sms"]["pending"]
    assert 0 < backed_off < 300

    result = CliRunner().invoke(app, ["deliver", "--settle", "120"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["outbox"]["sms"] == {"failed": 0, "pending": 0, "sent": 300}
    assert printed["outbox"]["county"] == {"failed": 0, "pending": 0, "sent": 1}
    assert printed["pending"] == 0
    assert printed["this_pass"]["sms"]["sent"] == backed_off, result.output
    assert_each_key_accepted_once(sms, set(sms_ids))
    assert_each_key_accepted_once(county, outbox_ids(act, "county"))
