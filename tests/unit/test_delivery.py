"""The outbox deliverer, the fallback to calls, 叫应 with a fake clock, the daily report."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from sanqing import reporting
from sanqing.db import session_scope, upsert
from sanqing.delivery import acknowledge as ack
from sanqing.delivery import deliver_outbox, outbox_counts
from sanqing.delivery.channels.base import Message, SendResult
from sanqing.delivery.fallback import fallback_unreached
from sanqing.errors import AnswerError, ChannelError
from sanqing.models import Activation, Cadre, Household, Notice, Report, TimelineEvent
from sanqing.plans import Level, load_plan
from tests.unit.test_response import NOW, activate

HEBA = "621221106204"


class FakeSender:
    """In-process channel: records sends; fails as told (retryable or not)."""

    idempotent = True

    def __init__(self, name: str, fail: list[bool] | None = None) -> None:
        self.name, self.sent, self.fail = name, [], list(fail or [])  # type: list[Message]
        self.lock = threading.Lock()

    def send(self, msg: Message) -> SendResult:
        with self.lock:
            if self.fail:
                retryable = self.fail.pop(0)
                raise ChannelError("gateway said 503", retryable=retryable)
            self.sent.append(msg)
        return SendResult(provider_id=f"p-{len(self.sent)}")

    def close(self) -> None:
        pass


def put_notices(act: str, n: int, channel: str = "sms", at: datetime = NOW) -> list[str]:
    ids = [f"{act}:{channel}:test:{i:03d}" for i in range(n)]
    with session_scope() as s:
        upsert(
            s,
            Notice,
            [
                {
                    "id": nid,
                    "activation_id": act,
                    "village_code": HEBA,
                    "channel": channel,
                    "purpose": "warning",
                    "audience": "resident",
                    "recipient": f"{HEBA}-H{i + 1:04d}",
                    "address": f"1391234{i:04d}",
                    "locale": "zh-CN",
                    "subject": "预警",
                    "body": "请注意防范",
                    "body_format": "text",
                    "status": "pending",
                    "attempts": 0,
                    "created_at": at,
                }
                for i, nid in enumerate(ids)
            ],
        )
    return ids


def statuses(ids: list[str]) -> dict[str, str]:
    with session_scope() as s:
        return {n.id: n.status for n in s.exec(select(Notice).where(col(Notice.id).in_(ids)))}


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def test_every_row_goes_once_and_a_second_pass_sends_nothing(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 30)
    sms = FakeSender("sms")
    clock = Clock(NOW)
    stats = deliver_outbox({"sms": sms}, now=clock, batch=7)
    assert stats.by_channel["sms"]["sent"] == 30
    assert sorted(m.key for m in sms.sent) == ids  # the row id is the idempotency key
    assert set(statuses(ids).values()) == {"sent"}
    deliver_outbox({"sms": sms}, now=clock)
    assert len(sms.sent) == 30


def test_two_deliverers_at_once_never_send_a_row_twice(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 60)
    sms = FakeSender("sms")
    barrier = threading.Barrier(2)

    def run(owner: str) -> None:
        barrier.wait()
        deliver_outbox({"sms": sms}, now=lambda: NOW, batch=5, owner=owner)

    threads = [threading.Thread(target=run, args=(f"d{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [m.key for m in sms.sent]
    assert sorted(keys) == ids and len(set(keys)) == len(keys)


def test_retryable_failures_back_off_then_go_and_hard_ones_fail_at_once(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 2)
    sms = FakeSender("sms", fail=[True, False])  # first row: 503 then ok; second: a 400
    clock = Clock(NOW)
    first = deliver_outbox({"sms": sms}, now=clock)
    assert first.by_channel["sms"] == {"retry": 1, "failed": 1}
    with session_scope() as s:
        rows = {n.id: n for n in s.exec(select(Notice).where(col(Notice.id).in_(ids)))}
    retry = next(n for n in rows.values() if n.status == "pending")
    assert retry.attempts == 1 and retry.next_attempt_at == NOW + timedelta(seconds=5)
    assert "503" in (retry.last_error or "")
    deliver_outbox({"sms": sms}, now=clock)  # not due yet: nothing sent
    assert sms.sent == []
    clock.t = NOW + timedelta(seconds=6)
    deliver_outbox({"sms": sms}, now=clock)
    assert [m.key for m in sms.sent] == [retry.id]
    assert sorted(statuses(ids).values()) == ["failed", "sent"]


def test_a_channel_that_is_down_does_not_hold_up_the_others(db_url: str) -> None:
    act = activate(Level.II)
    sms_ids = put_notices(act, 10)
    group_ids = put_notices(act, 3, channel="wechat")
    down = FakeSender("sms", fail=[True] * 100)
    wechat = FakeSender("wechat")
    stats = deliver_outbox({"sms": down, "wechat": wechat}, now=lambda: NOW)
    assert "sms" in stats.channels_down
    assert stats.by_channel["sms"]["retry"] == 3  # it stopped trying after three in a row
    assert set(statuses(group_ids).values()) == {"sent"}
    assert set(statuses(sms_ids).values()) == {"pending"}


def test_undelivered_rows_expire_are_counted_and_logged_never_dropped(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 4)
    down = FakeSender("sms", fail=[True] * 100)
    clock = Clock(NOW + timedelta(hours=7))  # past the 6-hour time to live
    stats = deliver_outbox({"sms": down}, now=clock, ttl=timedelta(hours=6))
    assert stats.expired == 4 and down.sent == []
    assert set(statuses(ids).values()) == {"expired"}
    assert outbox_counts(act)["sms"]["expired"] == 4
    with session_scope() as s:
        assert any(e.action == "通知过期未送达" for e in s.exec(select(TimelineEvent)))


def test_a_crash_between_send_and_record_sends_again_with_the_same_key(db_url: str) -> None:
    act = activate(Level.II)
    (nid,) = put_notices(act, 1)
    sms = FakeSender("sms")

    class Crash(BaseException):
        pass

    def crash(_: Any) -> None:
        raise Crash

    with pytest.raises(Crash):
        deliver_outbox({"sms": sms}, now=lambda: NOW, after_send=crash)
    assert statuses([nid]) == {nid: "pending"}  # sent, but not recorded: the lease holds it
    deliver_outbox({"sms": sms}, now=lambda: NOW + timedelta(seconds=30))
    assert len(sms.sent) == 1  # still leased: nobody sends it meanwhile
    deliver_outbox({"sms": sms}, now=lambda: NOW + timedelta(minutes=3))
    assert [m.key for m in sms.sent] == [nid, nid]  # the gateway de-duplicates on the key
    assert statuses([nid]) == {nid: "sent"}


def test_residents_the_sms_missed_go_on_their_cadres_call_list_once(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 3)
    deliver_outbox({"sms": FakeSender("sms", fail=[False, False, False])}, now=lambda: NOW)
    with session_scope() as s:
        assert fallback_unreached(s, activation_id=act, locale="zh-CN", now=NOW) == 3
        calls = list(s.exec(select(Notice).where(Notice.channel == "phone_call")))
        heads = {h.code: h for h in s.exec(select(Household))}
        for n in calls:
            for code in n.payload["households"]:  # type: ignore[index]
                assert heads[code].head_name in n.body and heads[code].phone in n.body
        assert sum(len(n.payload["households"]) for n in calls) == 3  # type: ignore[index]
        assert fallback_unreached(s, activation_id=act, locale="zh-CN", now=NOW) == 0
    assert len(ids) == 3


# --- 叫应 ------------------------------------------------------------------------------------


def sent_task_list(act: str, to: Cadre, at: datetime) -> str:
    nid = f"{act}:task_list:tasks:{to.code}:v1"
    with session_scope() as s:
        upsert(
            s,
            Notice,
            [
                {
                    "id": nid,
                    "activation_id": act,
                    "village_code": to.village_code,
                    "channel": "task_list",
                    "purpose": "tasks",
                    "audience": "cadre",
                    "recipient": to.code,
                    "address": to.phone,
                    "locale": "zh-CN",
                    "subject": "干部任务单",
                    "body": "一、组织转移3户",
                    "body_format": "text",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": at,
                    "sent_at": at,
                }
            ],
        )
    return nid


def test_no_answer_resend_then_up_the_chain_to_the_town(db_url: str) -> None:
    act = activate(Level.II)
    plan = load_plan()
    with session_scope() as s:
        cadres = list(s.exec(select(Cadre).where(Cadre.village_code == HEBA)))
        leaders = list(s.exec(select(Cadre).where(Cadre.role == "town_leader")))
    grid = sorted((c for c in cadres if c.role == "grid_member"), key=lambda c: c.code)[0]
    nid = sent_task_list(act, grid, NOW)

    def chase_at(minutes: int) -> ack.ChaseResult:
        with session_scope() as s:
            return ack.chase(s, activation_id=act, plan=plan, now=NOW + timedelta(minutes=minutes))

    def recipients() -> list[tuple[str, str]]:
        with session_scope() as s:
            return [
                (n.purpose, n.recipient)
                for n in s.exec(
                    select(Notice)
                    .where(col(Notice.id).startswith(nid + ":"))
                    .order_by(col(Notice.created_at), col(Notice.id))
                )
            ]

    assert chase_at(10) == ack.ChaseResult(0, 0)  # within the 15 minutes
    assert chase_at(16) == ack.ChaseResult(resent=1, forwarded=0)
    assert recipients() == [("ack_resend", grid.code)]
    assert chase_at(20) == ack.ChaseResult(0, 0)  # nothing twice
    village_cadre = sorted((c for c in cadres if c.role == "village_cadre"), key=lambda c: c.code)[
        0
    ]
    secretary = next(c for c in cadres if c.role == "first_secretary")
    town = sorted(leaders, key=lambda c: c.code)[0]
    assert chase_at(31).forwarded == 1
    assert recipients()[-1] == ("ack_forward", village_cadre.code)
    assert chase_at(46).forwarded == 1
    assert recipients()[-1] == ("ack_forward", secretary.code)
    assert chase_at(61).forwarded == 1
    assert recipients()[-1] == ("ack_forward", town.code)
    assert chase_at(120) == ack.ChaseResult(0, 0)  # the town has it: nobody further
    with session_scope() as s:
        steps = [
            e.action
            for e in s.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.action).startswith("未叫应"))
                .order_by(col(TimelineEvent.at))
            )
        ]
        forward = s.exec(select(Notice).where(Notice.recipient == town.code)).one()
    assert steps == ["未叫应，重发"] + ["未叫应，逐级上报"] * 3
    assert "一、组织转移3户" in forward.body and grid.name in forward.body


def test_an_answer_stops_the_chain_even_when_it_comes_from_the_next_person(db_url: str) -> None:
    act = activate(Level.II)
    plan = load_plan()
    with session_scope() as s:
        cadres = list(s.exec(select(Cadre).where(Cadre.village_code == HEBA)))
    grid = sorted((c for c in cadres if c.role == "grid_member"), key=lambda c: c.code)[0]
    nid = sent_task_list(act, grid, NOW)
    with session_scope() as s:
        ack.chase(s, activation_id=act, plan=plan, now=NOW + timedelta(minutes=31))
        forward = s.exec(select(Notice).where(Notice.purpose == "ack_forward")).one()
        forward.status, forward.sent_at = "sent", NOW + timedelta(minutes=31)
        s.add(forward)
    with session_scope() as s:  # the village cadre it went to answers for it
        assert ack.acknowledge(s, activation_id=act, cadre=forward.recipient, note="已落实") == 2
    with session_scope() as s:
        original = s.get(Notice, nid)
        assert original is not None and original.status == "acknowledged"
        assert ack.chase(s, activation_id=act, plan=plan, now=NOW + timedelta(hours=3)) == (
            ack.ChaseResult(0, 0)
        )
        with pytest.raises(AnswerError, match="not a cadre"):
            ack.acknowledge(s, activation_id=act, cadre="无此人")


# --- reports with deadlines ------------------------------------------------------------------


def test_the_daily_report_comes_once_a_day_late_if_late_and_zero_when_nothing_changed(
    db_url: str,
) -> None:
    act = activate(Level.III)  # activated at 19:00 Beijing time on 12 July
    plan = load_plan()
    with session_scope() as s:
        reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        # 07:30 on the 13th: before the report time (08:00)
        early = NOW + timedelta(hours=12, minutes=30)
        assert reporting.daily_report(session=s, activation_id=act, plan=plan, now=early) is None
        # 09:30: due since 08:00, deadline 09:00: written, and late
        late = NOW + timedelta(hours=14, minutes=30)
        daily = reporting.daily_report(session=s, activation_id=act, plan=plan, now=late)
        assert daily is not None and daily.kind == "daily" and daily.seq == 20260713
        assert daily.late and "30分钟" in daily.text  # the report says it is late, and by how much
        # nothing changed since the initial report: a zero report (零报告), so titled
        assert "（7月13日零报告）" in daily.title and "（7月13日零报告）" in daily.text
        again = reporting.daily_report(
            session=s, activation_id=act, plan=plan, now=late + timedelta(hours=1)
        )
        assert again is not None and again.id == daily.id
        kinds = [r.kind for r in s.exec(select(Report))]
        county = s.exec(select(Notice).where(Notice.channel == "county")).all()
    assert kinds.count("daily") == 1
    assert {n.payload["kind"] for n in county} == {"initial", "daily"}  # type: ignore[index]


def test_the_print_folder_writes_files_and_sends_nothing(db_url: str, tmp_path: Any) -> None:
    from sanqing.delivery.channels.file import deliver_to_files

    act = activate(Level.II)
    ids = put_notices(act, 3)
    with session_scope() as s:
        written = deliver_to_files(session=s, activation_id=act, out_dir=tmp_path, mark_sent=False)
    assert written.notices["sms"] == 3
    text = (tmp_path / "notices" / "sms" / "河坝村.txt").read_text(encoding="utf-8")
    assert text.count("收件人：") == 3 and "13912340000" not in text  # numbers masked
    assert set(statuses(ids).values()) == {"pending"}  # the outbox is for the channels


def test_a_slow_channel_never_sends_a_row_whose_lease_went_to_another(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 5)
    clock = Clock(NOW)
    sent: list[str] = []
    second_ran = threading.Event()

    class Slow(FakeSender):
        def send(self, msg: Message) -> SendResult:
            clock.t += timedelta(seconds=50)  # a rate-limited robot: 50 s a post
            sent.append(msg.key)
            if len(sent) == 3 and not second_ran.is_set():
                # meanwhile, the next scheduled deliverer starts (lease: 120 s)
                second_ran.set()
                deliver_outbox({"sms": Quick("sms")}, now=clock, owner="second")
            return SendResult()

    class Quick(FakeSender):
        def send(self, msg: Message) -> SendResult:
            sent.append(msg.key)
            return SendResult()

    deliver_outbox({"sms": Slow("sms")}, now=clock, owner="first", batch=5)
    assert second_ran.is_set()
    with session_scope() as s:
        rows = list(s.exec(select(Notice).where(col(Notice.id).in_(ids))))
    assert {r.status for r in rows} == {"sent"}
    assert sorted(sent) == ids  # each row sent once: the first skipped what the second took


def test_a_wrong_key_stops_the_channel_and_keeps_its_rows(db_url: str) -> None:
    act = activate(Level.II)
    ids = put_notices(act, 5)

    class Unauthorized(FakeSender):
        def send(self, msg: Message) -> SendResult:
            raise ChannelError("sms: HTTP 401", retryable=False, channel_wide=True)

    stats = deliver_outbox({"sms": Unauthorized("sms")}, now=lambda: NOW)
    assert "sms" in stats.channels_down and stats.by_channel["sms"]["channel_error"] == 1
    with session_scope() as s:
        rows = list(s.exec(select(Notice).where(col(Notice.id).in_(ids))))
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}
    deliver_outbox({"sms": FakeSender("sms")}, now=lambda: NOW)  # the key is fixed
    assert set(statuses(ids).values()) == {"sent"}


def test_the_stand_down_withdraws_pending_orders_but_not_the_reports(db_url: str) -> None:
    from sanqing import response

    act = activate(Level.II)
    ids = put_notices(act, 2)
    with session_scope() as s:
        reporting.report_upward(session=s, activation_id=act, plan=load_plan(), now=NOW)
        response.stand_down(session=s, activation_id=act, reason="解除", now=NOW)
    assert set(statuses(ids).values()) == {"superseded"}
    assert outbox_counts(act)["county"]["pending"] == 1


def test_only_the_newest_task_list_is_chased_and_answers_cover_what_was_sent(
    db_url: str,
) -> None:
    act = activate(Level.II)
    plan = load_plan()
    with session_scope() as s:
        grid = s.exec(
            select(Cadre).where(Cadre.village_code == HEBA, Cadre.role == "grid_member")
        ).first()
    assert grid is not None
    old = sent_task_list(act, grid, NOW)
    new = old.replace(":v1", ":v2")
    with session_scope() as s:
        n = s.get(Notice, old)
        assert n is not None
        s.add(Notice.model_validate(n.model_dump() | {"id": new, "status": "pending"}))
    with session_scope() as s:  # v2 is not sent yet: an answer now covers v1 only
        assert ack.acknowledge(s, activation_id=act, cadre=grid.code) == 1
        v2 = s.get(Notice, new)
        assert v2 is not None and v2.acknowledged_at is None
        v2.status, v2.sent_at = "sent", NOW + timedelta(minutes=5)
        s.add(v2)
    with session_scope() as s:
        result = ack.chase(s, activation_id=act, plan=plan, now=NOW + timedelta(minutes=21))
        resent = s.exec(select(Notice).where(Notice.purpose == "ack_resend")).all()
    assert result.resent == 1 and [r.id for r in resent] == [new + ":resend-1"]


def test_a_busy_day_is_no_zero_report_even_after_a_fresh_follow_up(db_url: str) -> None:
    act = activate(Level.III)
    plan = load_plan()
    with session_scope() as s:
        reporting.report_upward(session=s, activation_id=act, plan=plan, now=NOW)
        from sanqing import response

        for v in s.get(Activation, act).village_codes:  # type: ignore[union-attr]
            response.plan_relocations(
                session=s, activation_id=act, village_code=v, plan=plan, now=NOW
            )
        later = NOW + timedelta(hours=13, minutes=5)  # 08:05 the next morning
        follow = reporting.report_upward(session=s, activation_id=act, plan=plan, now=later)
        assert follow.kind == "follow_up"
        daily = reporting.daily_report(session=s, activation_id=act, plan=plan, now=later)
    assert daily is not None and "零报告" not in daily.text and not daily.late


def test_a_rate_limited_channel_claims_no_more_than_it_sends_within_its_lease(
    db_url: str,
) -> None:
    from sanqing.delivery.channels.http import RateLimiter

    act = activate(Level.II)
    ids = put_notices(act, 60, channel="task_list")
    clock = Clock(NOW)

    def advance(seconds: float) -> None:
        clock.t += timedelta(seconds=seconds)

    class Robot(FakeSender):
        """A group robot: 0.3 posts a second (20 a minute), as DingTalk allows."""

        limiter = RateLimiter(0.3, clock=lambda: clock.t.timestamp(), sleep=advance)

        def send(self, msg: Message) -> SendResult:
            self.limiter.acquire()
            return super().send(msg)

    robot = Robot("task_list")
    stats = deliver_outbox({"task_list": robot}, now=clock, lease=timedelta(seconds=120))
    # 60 posts take 200 s, longer than a lease: claimed all at once, the later rows would
    # lose their lease while they wait (and be skipped); claimed in small batches none does
    assert stats.by_channel["task_list"] == {"sent": 60}
    assert sorted(m.key for m in robot.sent) == ids


def test_settling_leaves_a_misconfigured_channel_alone_and_retries_the_others(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sanqing.delivery import deliver_until_settled
    from sanqing.models import utcnow
    from sanqing.settings import get_settings

    monkeypatch.setenv("SANQING_DELIVERY_BACKOFF_S", "[0.05]")
    get_settings.cache_clear()
    act = activate(Level.II)
    sms_ids = put_notices(act, 3, at=utcnow())
    group_ids = put_notices(act, 2, channel="wechat", at=utcnow())
    tried: list[str] = []

    class Unauthorized(FakeSender):
        def send(self, msg: Message) -> SendResult:
            tried.append(msg.key)
            raise ChannelError("sms: HTTP 401", retryable=False, channel_wide=True)

    group = FakeSender("wechat", fail=[True])  # the first post fails for now
    stats = deliver_until_settled(
        activation_id=act, settle_s=30, senders={"sms": Unauthorized("sms"), "wechat": group}
    )
    assert sorted(m.key for m in group.sent) == group_ids  # retried after its backoff
    assert len(tried) == 1  # a wrong key is not tried again and again while settling
    assert stats.by_channel["sms"]["channel_error"] == 1 and "sms" in stats.channels_down
    assert set(statuses(sms_ids).values()) == {"pending"}


def test_settling_keeps_the_real_backoff_on_an_injected_clock(db_url: str) -> None:
    import sanqing.clock
    from sanqing.delivery import BACKOFF_S, deliver_until_settled
    from sanqing.models import utcnow
    from tests.fakes import SkippingClock

    act = activate(Level.II)
    (first,) = put_notices(act, 1, at=utcnow())
    (second,) = put_notices(act, 1, channel="wechat", at=utcnow())
    sms = FakeSender("sms", fail=[True, True, True])  # 5 s, 30 s, 120 s: 155 s to its 4th try
    group = FakeSender("wechat", fail=[True, True])
    clock = SkippingClock()
    with sanqing.clock.use(clock):
        stats = deliver_until_settled(activation_id=act, settle_s=60, senders={"sms": sms})
        assert sanqing.clock.current() is clock
    assert sanqing.clock.current() is sanqing.clock.SYSTEM  # only inside `use`
    # waited the first two backoffs on the clock; the third ends past the minute: left pending
    assert BACKOFF_S[:2] == (5, 30) and len(clock.waits) == 2
    assert 0 < clock.waits[0] <= 5 and 25 < clock.waits[1] <= 30
    assert stats.by_channel["sms"] == {"retry": 3} and statuses([first]) == {first: "pending"}

    later = SkippingClock()  # given as an argument instead; settles long enough this time
    deliver_until_settled(activation_id=act, settle_s=200, senders={"wechat": group}, clock=later)
    assert [m.key for m in group.sent] == [second] and 25 < sum(later.waits) <= 35


class SlowSender(FakeSender):
    """Takes a while per message, like a gateway at its rate limit."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(name)
        self.seconds = seconds

    def send(self, msg: Message) -> SendResult:
        time.sleep(self.seconds)
        return super().send(msg)


def test_a_pass_with_a_deadline_stops_in_time_and_the_rest_goes_once_later(db_url: str) -> None:
    """A drill's minute ends inside a long pass: what was not tried is sent by the next run."""
    act = activate()
    ids = put_notices(act, 60)
    sms = SlowSender("sms", seconds=0.05)
    clock = Clock(NOW)
    stats = deliver_outbox({"sms": sms}, activation_id=act, now=clock, until=time.monotonic() + 0.5)
    first = len(sms.sent)
    assert 0 < first < 60 and stats.as_dict()["sms"]["sent"] == first
    left = [nid for nid, st in statuses(ids).items() if st == "pending"]
    assert len(left) == 60 - first
    with session_scope() as s:  # handed back untouched: no lease, no attempt counted
        rows = s.exec(select(Notice).where(col(Notice.id).in_(left))).all()
        assert all(r.lease_owner is None and r.attempts == 0 for r in rows)
    deliver_outbox({"sms": sms}, activation_id=act, now=clock)
    assert set(statuses(ids).values()) == {"sent"}
    assert sorted(m.key for m in sms.sent) == sorted(ids)  # every row once, none twice
