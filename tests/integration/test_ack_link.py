"""叫应 by link: a cadre taps 收到 in the task and the chase stops (a real local HTTP receiver)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from sanqing.db import session_scope
from sanqing.delivery import acknowledge as ack
from sanqing.delivery import deliver_outbox
from sanqing.delivery.ack_server import AckServer
from sanqing.delivery.channels.base import Message, SendResult
from sanqing.models import Cadre, Notice, utcnow
from sanqing.plans import Level, load_plan
from sanqing.registry import find_town
from sanqing.settings import get_settings
from tests.unit.test_delivery import HEBA, sent_task_list
from tests.unit.test_response import NOW, activate

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[AckServer]:
    server = AckServer("127.0.0.1", 0)
    monkeypatch.setenv("SANQING_ACK_URL", server.url)
    monkeypatch.setenv("SANQING_ACK_SECRET", "s3cret-for-tests")
    get_settings.cache_clear()
    server.start_in_background()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        get_settings.cache_clear()


class Robot:
    name, idempotent = "task_list", False

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, msg: Message) -> SendResult:
        self.sent.append(msg)
        return SendResult()

    def close(self) -> None:
        pass


def grid_member() -> Cadre:
    with session_scope() as s:
        grid = s.exec(
            select(Cadre).where(Cadre.village_code == HEBA, Cadre.role == "grid_member")
        ).first()
    assert grid is not None
    return grid


def deliver_task(act: str, grid: Cadre, *, version: str = "v1", at: datetime) -> tuple[str, str]:
    """A task list for ``grid`` delivered at ``at`` by the deliverer; its id and 收到 link."""
    nid = sent_task_list(act, grid, at).replace(":v1", f":{version}")
    with session_scope() as s:  # back to pending: the deliverer adds the link as it sends
        n = s.get(Notice, f"{act}:task_list:tasks:{grid.code}:v1")
        assert n is not None
        if version != "v1":  # a newer version; the one sent stays as it is (notices.py)
            s.add(Notice.model_validate(n.model_dump() | {"id": nid, "status": "pending"}))
        else:
            n.status, n.sent_at = "pending", None
            s.add(n)
    robot = Robot()
    deliver_outbox({"task_list": robot}, now=lambda: at)
    (msg,) = robot.sent
    assert msg.key == nid
    return nid, msg.text.rsplit("：", 1)[1]


def test_a_tapped_link_acknowledges_and_a_forged_one_does_not(
    db_url: str, receiver: AckServer
) -> None:
    act = activate(Level.II)
    start = utcnow()
    nid, link = deliver_task(act, grid_member(), at=start)
    assert link.startswith(receiver.url + "?")
    with session_scope() as s:  # the stored task stays as written: the link is per send
        assert "点击确认" not in s.get(Notice, nid).body  # type: ignore[union-attr]

    forged = link[:-4] + "0000"
    assert httpx.get(forged).status_code == 403
    with session_scope() as s:
        assert s.get(Notice, nid).acknowledged_at is None  # type: ignore[union-attr]

    page = httpx.get(link)
    assert page.status_code == 200 and "已确认收到" in page.text
    with session_scope() as s:
        n = s.get(Notice, nid)
        assert n is not None and n.status == "acknowledged" and n.acknowledged_at is not None
        # an hour later nobody is chased
        assert ack.chase(
            s, activation_id=act, plan=load_plan(), now=start + timedelta(hours=1)
        ) == ack.ChaseResult(0, 0)
    again = httpx.get(link)  # tapping twice is harmless
    assert again.status_code == 200 and "此前已确认" in again.text
    assert httpx.get(receiver.url.replace("/ack", "/other")).status_code == 404


def test_an_old_link_does_not_answer_the_task_sent_after_it(
    db_url: str, receiver: AckServer
) -> None:
    act = activate(Level.II)
    grid = grid_member()
    start = utcnow() - timedelta(minutes=40)
    v1, old_link = deliver_task(act, grid, at=start)
    v2, _ = deliver_task(act, grid, version="v2", at=start + timedelta(minutes=20))
    page = httpx.get(old_link)  # tapped (or replayed) after the second list went out
    assert page.status_code == 200
    with session_scope() as s:
        assert s.get(Notice, v1).acknowledged_at is not None  # type: ignore[union-attr]
        assert s.get(Notice, v2).acknowledged_at is None  # type: ignore[union-attr]
        # the second list is still unanswered: the chase resends it
        chased = ack.chase(s, activation_id=act, plan=load_plan(), now=utcnow())
    assert chased.resent == 1


def test_an_expired_link_says_to_call_the_duty_room(db_url: str, receiver: AckServer) -> None:
    act = activate(Level.II)
    ttl = get_settings().ack_link_ttl_hours
    nid, link = deliver_task(act, grid_member(), at=utcnow() - timedelta(hours=ttl + 1))
    page = httpx.get(link)
    with session_scope() as s:
        duty_phone = find_town(s, "jifeng").duty_phone
        assert s.get(Notice, nid).acknowledged_at is None  # type: ignore[union-attr]
    assert page.status_code == 410
    assert "已过期" in page.text and "值班室" in page.text and duty_phone in page.text
    moved = link.replace("&e=", "&e=9").replace("?e=", "?e=9")  # the expiry pushed on by hand
    assert httpx.get(moved).status_code == 403


def test_the_gateways_receipts_mark_messages_delivered_or_failed(
    db_url: str, receiver: AckServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sanqing.delivery.fallback import fallback_unreached
    from tests.unit.test_delivery import FakeSender, put_notices

    monkeypatch.setenv("SANQING_RECEIPT_TOKEN", "gateway-token")
    get_settings.cache_clear()
    act = activate(Level.II)
    reached, missed = put_notices(act, 2)
    deliver_outbox({"sms": FakeSender("sms")}, now=lambda: NOW)  # both accepted: "sent"
    url = receiver.url.replace("/ack", "/receipt")
    auth = {"Authorization": "Bearer gateway-token"}
    assert httpx.post(url, json={"key": reached, "status": "delivered"}).status_code == 401
    assert (
        httpx.post(url, json={"key": reached, "status": "delivered"}, headers=auth).status_code
        == 200
    )
    failed = {"key": missed, "status": "failed", "error": "handset off"}
    assert httpx.post(url, json=failed, headers=auth).status_code == 200
    assert (
        httpx.post(url, json={"key": "nope", "status": "failed"}, headers=auth).status_code == 404
    )
    assert httpx.post(url, json={"key": missed}, headers=auth).status_code == 400
    with session_scope() as s:
        r, m = s.get(Notice, reached), s.get(Notice, missed)
        assert r is not None and r.status == "delivered" and r.delivered_at is not None
        assert m is not None and m.status == "failed" and "handset off" in (m.last_error or "")
        # the household the SMS did not reach goes on its cadre's call list
        assert fallback_unreached(s, activation_id=act, locale="zh-CN") == 1
    # a late "delivered" for the failed one changes nothing
    httpx.post(url, json={"key": missed, "status": "delivered"}, headers=auth)
    with session_scope() as s:
        assert s.get(Notice, missed).status == "failed"  # type: ignore[union-attr]
