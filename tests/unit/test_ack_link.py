"""收到 links: a link acknowledges only the task it was issued for, and only for a while."""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from sanqing.db import session_scope
from sanqing.delivery import acknowledge as ack
from sanqing.delivery import links
from sanqing.models import Cadre, Notice, TimelineEvent
from sanqing.plans import Level, load_plan
from sanqing.settings import get_settings
from tests.unit.test_delivery import HEBA, sent_task_list
from tests.unit.test_response import NOW, activate

SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def link_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SANQING_ACK_URL", "https://ack.example.test/ack")
    monkeypatch.setenv("SANQING_ACK_SECRET", SECRET)
    monkeypatch.setenv("SANQING_ACK_LINK_TTL_HOURS", "24")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def grid_member() -> Cadre:
    with session_scope() as s:
        grid = s.exec(
            select(Cadre)
            .where(Cadre.village_code == HEBA, Cadre.role == "grid_member")
            .order_by(col(Cadre.code))
        ).first()
    assert grid is not None
    return grid


def link_of(nid: str, *, at: datetime) -> dict[str, str]:
    """The query of the link the deliverer puts into the notice sent at ``at``."""
    with session_scope() as s:
        n = s.get(Notice, nid)
        assert n is not None
        link = links.ack_link(n, now=at)
    assert link is not None
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))


def tap(query: dict[str, str], *, at: datetime) -> int:
    with session_scope() as s:
        return links.acknowledge_link(
            s,
            notice_id=query.get("n", ""),
            expires=query.get("e", ""),
            token=query.get("t", ""),
            now=at,
        )


def acknowledged(*ids: str) -> dict[str, bool]:
    with session_scope() as s:
        return {
            n.id: n.acknowledged_at is not None
            for n in s.exec(select(Notice).where(col(Notice.id).in_(ids)))
        }


def new_version(old: str, *, sent_at: datetime) -> str:
    """A newer version of the task list ``old``, sent at ``sent_at``.

    The old one stays ``sent``: only a pending older version is superseded (notices.py).
    """
    new = old.replace(":v1", ":v2")
    with session_scope() as s:
        n = s.get(Notice, old)
        assert n is not None
        s.add(
            Notice.model_validate(
                n.model_dump()
                | {"id": new, "status": "sent", "sent_at": sent_at, "created_at": sent_at}
            )
        )
    return new


def test_an_old_link_acknowledges_its_own_task_and_not_the_ones_sent_later(db_url: str) -> None:
    act = activate(Level.II)
    grid = grid_member()
    v1 = sent_task_list(act, grid, NOW)
    old_link = link_of(v1, at=NOW)
    v2 = new_version(v1, sent_at=NOW + timedelta(minutes=10))

    # the cadre taps the link of the first list, after the second was sent
    assert tap(old_link, at=NOW + timedelta(minutes=12)) == 1
    assert acknowledged(v1, v2) == {v1: True, v2: False}
    # the 叫应 chase still wants an answer to the second list
    with session_scope() as s:
        chased = ack.chase(s, activation_id=act, plan=load_plan(), now=NOW + timedelta(minutes=26))
        resent = [n.id for n in s.exec(select(Notice).where(Notice.purpose == "ack_resend"))]
    assert chased.resent == 1 and resent == [v2 + ":resend-1"]
    # its own link answers it, and the resend of it
    assert tap(link_of(v2, at=NOW + timedelta(minutes=10)), at=NOW + timedelta(minutes=30)) == 2
    assert acknowledged(v2, v2 + ":resend-1") == {v2: True, v2 + ":resend-1": True}


def test_a_link_expires_and_its_expiry_cannot_be_moved(db_url: str) -> None:
    act = activate(Level.II)
    nid = sent_task_list(act, grid_member(), NOW)
    query = link_of(nid, at=NOW)
    assert int(query["e"]) == int((NOW + timedelta(hours=24)).timestamp())

    with pytest.raises(links.LinkExpired, match="expired"):
        tap(query, at=NOW + timedelta(hours=24, seconds=1))
    later = query | {"e": str(int(query["e"]) + 7 * 24 * 3600)}  # a week more, by hand
    with pytest.raises(links.LinkForged):
        tap(later, at=NOW + timedelta(hours=25))
    assert acknowledged(nid) == {nid: False}
    assert tap(query, at=NOW + timedelta(hours=23)) == 1  # within its day it works


def test_the_link_time_to_live_is_a_setting(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANQING_ACK_LINK_TTL_HOURS", "2")
    get_settings.cache_clear()
    act = activate(Level.II)
    nid = sent_task_list(act, grid_member(), NOW)
    query = link_of(nid, at=NOW)
    with pytest.raises(links.LinkExpired):
        tap(query, at=NOW + timedelta(hours=3))


def test_a_link_for_another_task_or_without_expiry_is_refused(db_url: str) -> None:
    act = activate(Level.II)
    grid = grid_member()
    v1 = sent_task_list(act, grid, NOW)
    v2 = new_version(v1, sent_at=NOW + timedelta(minutes=10))
    query = link_of(v1, at=NOW)
    with pytest.raises(links.LinkForged):  # v1's signature does not fit v2
        tap(query | {"n": v2}, at=NOW + timedelta(minutes=11))
    # a link of the old kind (signed notice id only, no expiry) is no longer taken
    old_token = hmac.new(SECRET.encode(), v1.encode(), hashlib.sha256).hexdigest()[:20]
    old_kind = {"n": v1, "t": old_token}
    with pytest.raises(links.LinkMalformed):
        tap(old_kind, at=NOW + timedelta(minutes=11))
    for bad in ({"t": "令牌"}, {"t": "zz" * 16}, {"e": "明天"}, {"e": "-5"}):
        with pytest.raises(links.LinkMalformed):
            tap(query | bad, at=NOW + timedelta(minutes=11))
    assert acknowledged(v1, v2) == {v1: False, v2: False}


def test_a_second_tap_changes_nothing_and_logs_once(db_url: str) -> None:
    act = activate(Level.II)
    nid = sent_task_list(act, grid_member(), NOW)
    query = link_of(nid, at=NOW)
    assert tap(query, at=NOW + timedelta(minutes=3)) == 1
    assert tap(query, at=NOW + timedelta(minutes=9)) == 0  # "already confirmed"
    with session_scope() as s:
        n = s.get(Notice, nid)
        assert n is not None and n.status == "acknowledged"
        assert n.acknowledged_at == NOW + timedelta(minutes=3)
        events = [e for e in s.exec(select(TimelineEvent)) if e.action == "已叫应"]
    assert len(events) == 1


def test_the_link_in_a_resend_or_a_handed_up_task_answers_the_original(db_url: str) -> None:
    act = activate(Level.II)
    nid = sent_task_list(act, grid_member(), NOW)
    with session_scope() as s:  # not answered: resent at 16 min, handed up at 31 min
        ack.chase(s, activation_id=act, plan=load_plan(), now=NOW + timedelta(minutes=16))
        ack.chase(s, activation_id=act, plan=load_plan(), now=NOW + timedelta(minutes=31))
    with session_scope() as s:
        copies = {
            n.purpose: n for n in s.exec(select(Notice).where(col(Notice.id).startswith(nid + ":")))
        }
        for n in copies.values():
            n.status, n.sent_at = "sent", NOW + timedelta(minutes=31)
            s.add(n)
    forward = copies["ack_forward"]
    assert tap(link_of(forward.id, at=NOW + timedelta(minutes=31)), at=NOW + timedelta(minutes=33))
    assert acknowledged(nid, forward.id, copies["ack_resend"].id) == {
        nid: True,
        forward.id: True,
        copies["ack_resend"].id: True,
    }
    with session_scope() as s:
        assert ack.chase(
            s, activation_id=act, plan=load_plan(), now=NOW + timedelta(hours=3)
        ) == ack.ChaseResult(0, 0)
