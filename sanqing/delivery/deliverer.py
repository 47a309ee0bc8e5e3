"""Delivering the outbox: every pending notice and report, once, or reported as failed.

A deliverer claims rows with a conditional UPDATE (a lease), so two deliverers
running at once never take the same row. It sends each through its channel with
the row id as the idempotency key, then records the outcome. A crash between the
send and the record leaves the lease to expire; the next deliverer sends again
with the same key, and a gateway that honours ``Idempotency-Key`` (the SMS
gateway, the county receiver) delivers it once. Group robots (WeCom, DingTalk)
have no such key: there a crash at that instant can post twice (at-least-once).

A failure that may pass (a 500, a timeout) is retried with backoff until the
row's expiry; one that will not (a 400) fails at once. Expired rows are marked
``expired`` and counted, never dropped silently. A channel that keeps failing is
left alone for the rest of the pass.

Channels never wait on each other: in a pass every channel is served by a worker
thread of its own, at its own pace (its sender's rate limit), so 1,400 SMS at 20 a
second do not hold up a report, and a gateway that hangs holds up only its own
channel. The reports upward (channel ``county``) are claimed before anything else
and their worker starts first.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select

from sanqing.clock import Clock
from sanqing.clock import current as current_clock
from sanqing.clock import use as use_clock
from sanqing.db import session_scope
from sanqing.delivery.channels.base import Message, Sender
from sanqing.delivery.links import ack_link
from sanqing.delivery.state import claim, expire_overdue, record, renew
from sanqing.errors import ChannelError
from sanqing.models import Channel, Notice, NoticeStatus, utcnow

BACKOFF_S = (5, 30, 120, 300, 900)
#: Retryable failures in a row after which a channel is skipped for the rest of a pass.
CHANNEL_DOWN_AFTER = 3
#: The reports upward: claimed and sent first in every pass.
FIRST_CHANNEL = Channel.COUNTY
#: A rate-limited channel claims at most what it sends in this share of its lease, so the
#: rows at the end of its batch do not outlive their lease while they wait their turn.
LEASE_SHARE_PER_BATCH = 0.25


@dataclass
class DeliveryStats:
    """Per channel: how many rows ended in each status in this pass, and what is left."""

    by_channel: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    channels_down: set[str] = field(default_factory=set)
    expired: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, channel: str, status: str) -> None:
        with self._lock:  # the channels' workers count into the same stats
            self.by_channel[channel][status] += 1

    def down(self, channel: str) -> None:
        with self._lock:
            self.channels_down.add(channel)

    def is_down(self, channel: str) -> bool:
        with self._lock:
            return channel in self.channels_down

    def merge(self, other: DeliveryStats) -> None:
        """Add another pass's counts to these."""
        for ch, counts in other.by_channel.items():
            self.by_channel[ch].update(counts)
        self.channels_down |= other.channels_down
        self.expired += other.expired

    def misconfigured(self) -> set[str]:
        """The channels stopped by an error that every message would get (a key, a URL)."""
        return {ch for ch, counts in self.by_channel.items() if counts["channel_error"]}

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {ch: dict(sorted(c.items())) for ch, c in sorted(self.by_channel.items())}


def _message(n: Notice, now: datetime) -> Message:
    text = n.body
    if link := ack_link(n, now=now):  # a cadre's task: the link they tap to say 收到 (叫应)
        text += ("\n收到请点击确认：" if n.locale == "zh-CN" else "\nTap to confirm: ") + link
    return Message(
        key=n.id,
        channel=n.channel,
        to=n.address,
        subject=n.subject,
        text=text,
        payload=n.payload,
    )


@dataclass
class _Pass:
    """What the channel workers of one delivery pass share."""

    senders: Mapping[str, Sender]
    owner: str
    now: Callable[[], datetime]
    max_attempts: int
    lease: timedelta
    batch: int
    backoff: Sequence[float]
    activation_id: str | None
    after_send: Callable[[Notice], None] | None
    stats: DeliveryStats
    #: Set when a worker died: the others stop after the message in hand.
    stop: threading.Event = field(default_factory=threading.Event)
    #: ``monotonic()`` after which workers stop after the message in hand (None: never).
    until: float | None = None
    monotonic: Callable[[], float] = time.monotonic

    def should_stop(self, channel: str) -> bool:
        """A worker died, the channel went down, or the pass's time is up."""
        return (
            self.stop.is_set()
            or self.stats.is_down(channel)
            or (self.until is not None and self.monotonic() >= self.until)
        )


def deliver_outbox(
    senders: Mapping[str, Sender],
    *,
    activation_id: str | None = None,
    now: Callable[[], datetime] = utcnow,
    ttl: timedelta = timedelta(hours=6),
    max_attempts: int = 6,
    lease: timedelta = timedelta(seconds=120),
    batch: int = 200,
    owner: str | None = None,
    after_send: Callable[[Notice], None] | None = None,
    backoff: Sequence[float] = BACKOFF_S,
    until: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> DeliveryStats:
    """Send every due row of the channels in ``senders``, each channel in its own worker.

    The reports upward are claimed first. Returns what happened in this pass. With
    ``until`` (a ``monotonic()`` value) the workers stop once it has passed and
    hand back, untouched, the rows they had not tried: a later pass sends them.
    ``after_send`` runs between a send and its record (tests simulate a crash there);
    an exception in one worker stops the others after their message in hand and is
    raised here once they have stopped.
    """
    run = _Pass(
        senders=senders,
        owner=owner or f"deliverer-{uuid.uuid4().hex[:12]}",
        now=now,
        max_attempts=max_attempts,
        lease=lease,
        batch=batch,
        backoff=tuple(backoff) or BACKOFF_S,
        activation_id=activation_id,
        after_send=after_send,
        stats=DeliveryStats(),
        until=until,
        monotonic=monotonic,
    )
    run.stats.expired = expire_overdue(now=now(), ttl=ttl, activation_id=activation_id)
    channels = sorted(senders, key=lambda ch: ch != FIRST_CHANNEL)  # stable: county first
    first: list[str] | None = None
    if FIRST_CHANNEL in senders:
        first = _claim_for(run, FIRST_CHANNEL)
    with ThreadPoolExecutor(max_workers=len(channels) or 1, thread_name_prefix="deliver") as pool:
        futures = [
            pool.submit(_serve_channel, run, ch, first if ch == FIRST_CHANNEL else None)
            for ch in channels
        ]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:  # a worker died, or Ctrl-C here: the others stop after their send
            run.stop.set()
    for future in futures:  # leaving the pool waited for every worker
        if (exc := future.exception()) is not None:
            raise exc
    return run.stats


def _batch_size(run: _Pass, sender: Sender) -> int:
    """How many rows a channel claims at once: fewer for a slow (rate-limited) channel."""
    # Not part of the Sender protocol: only the HTTP senders have a rate limiter.
    rate = float(getattr(getattr(sender, "limiter", None), "per_second", 0) or 0)
    if rate <= 0:
        return run.batch
    fits = int(rate * run.lease.total_seconds() * LEASE_SHARE_PER_BATCH)
    return max(1, min(run.batch, fits))


def _claim_for(run: _Pass, channel: str) -> list[str]:
    return claim(
        owner=run.owner,
        now=run.now(),
        lease=run.lease,
        channels=[channel],
        limit=_batch_size(run, run.senders[channel]),
        activation_id=run.activation_id,
    )


def _serve_channel(run: _Pass, channel: str, first: list[str] | None) -> None:
    """A channel's worker: claim its due rows in batches and send them, until none is due.

    It stops early when the channel goes down (a wrong key, or failures in a row) or
    another worker died; rows it holds but did not try are released untouched.
    """
    sender = run.senders[channel]
    failures_in_a_row = 0
    ids = first
    while True:
        if ids is None:
            ids = _claim_for(run, channel)
        if not ids:
            return
        with session_scope() as session:
            rows = {n.id: n for n in session.exec(select(Notice).where(col(Notice.id).in_(ids)))}
        for i, nid in enumerate(ids):
            if run.should_stop(channel):
                for rest in ids[i:]:  # release them for a later pass
                    record(rest, run.owner)
                return
            outcome = _send_one(run, sender, rows[nid])
            run.stats.add(channel, outcome)
            if outcome == "channel_error":
                run.stats.down(channel)
            elif outcome == "retry":
                failures_in_a_row += 1
                if failures_in_a_row >= CHANNEL_DOWN_AFTER:
                    run.stats.down(channel)
            elif outcome in ("sent", "unrecorded"):
                failures_in_a_row = 0
        ids = None


def _send_one(run: _Pass, sender: Sender, n: Notice) -> str:
    """Send one leased row and record the outcome; returns it (sent, retry, failed, …)."""
    owner, now = run.owner, run.now
    if not renew(n.id, owner, now(), run.lease):
        return "lost"
    attempts = n.attempts + 1
    try:
        try:
            result = sender.send(_message(n, now()))
        except ChannelError:
            raise
        except Exception as exc:  # a sender's own bug or a full disk: retry this row
            raise ChannelError(f"{n.channel}: {type(exc).__name__}", retryable=True) from exc
    except ChannelError as exc:
        last = str(exc)[:500]
        if exc.channel_wide:
            # The channel is misconfigured: keep the row, stop the channel, say why.
            record(n.id, owner, last_error=last)
            return "channel_error"
        if exc.retryable and attempts < run.max_attempts:
            wait_s = run.backoff[min(attempts, len(run.backoff)) - 1]
            record(
                n.id,
                owner,
                attempts=attempts,
                last_error=last,
                next_attempt_at=now() + timedelta(seconds=wait_s),
            )
            return "retry"
        record(n.id, owner, attempts=attempts, last_error=last, status=NoticeStatus.FAILED)
        return "failed"
    if run.after_send is not None:
        run.after_send(n)
    recorded = record(
        n.id,
        owner,
        attempts=attempts,
        status=NoticeStatus.SENT,
        sent_at=now(),
        provider_id=result.provider_id,
        last_error=None,
    )
    return "sent" if recorded else "unrecorded"


def deliver_until_settled(
    *,
    activation_id: str | None = None,
    settle_s: float = 0,
    senders: Mapping[str, Sender] | None = None,
    clock: Clock | None = None,
) -> DeliveryStats:
    """Deliver with the configured senders; go on retrying what falls due within ``settle_s``.

    The drill settles for a while so its summary says what went; the schedule does
    one pass (``settle_s=0``) and leaves the rest to its next run. With ``settle_s``
    the whole call ends by then, even inside a pass (1,400 SMS at 20 a second take
    longer than a drill's minute): what was not tried stays pending for the next run.
    A channel with a wrong key or URL is left out of the later passes: it would only
    fail again. Times and waits come from ``clock`` (default: :func:`sanqing.clock.current`),
    so a test runs the real backoff schedule without waiting it out.
    """

    from sanqing.delivery.channels.config import senders_from_settings
    from sanqing.settings import get_settings

    settings = get_settings()
    clock = clock or current_clock()
    own = senders is None
    if senders is None:
        with use_clock(clock):  # their rate limiters wait on it too
            senders = senders_from_settings(settings)
    deadline = clock.monotonic() + settle_s
    total = DeliveryStats()
    serving = dict(senders)
    try:
        while serving:
            stats = deliver_outbox(
                serving,
                activation_id=activation_id,
                ttl=timedelta(hours=settings.message_ttl_hours),
                max_attempts=settings.delivery_max_attempts,
                backoff=settings.delivery_backoff_s or BACKOFF_S,
                until=deadline if settle_s > 0 else None,
                now=clock.now,
                monotonic=clock.monotonic,
            )
            total.merge(stats)
            for channel in stats.misconfigured():
                serving.pop(channel, None)
            wait_s = _next_due_in(activation_id, channels=serving, now=clock.now())
            if wait_s is None or clock.monotonic() + wait_s > deadline:
                break
            clock.sleep(max(wait_s, 0.2))
        return total
    finally:
        if own:
            for sender in senders.values():
                sender.close()


def _next_due_in(
    activation_id: str | None, *, channels: Iterable[str], now: datetime
) -> float | None:
    """Seconds until a pending row of these channels may be tried (None: nothing pending).

    A row is due when its backoff is over and no other deliverer holds its lease.
    """
    with session_scope() as session:
        query = select(Notice.next_attempt_at, Notice.lease_until).where(
            Notice.status == NoticeStatus.PENDING, col(Notice.channel).in_(list(channels))
        )
        if activation_id:
            query = query.where(Notice.activation_id == activation_id)
        times = list(session.exec(query))
    if not times:
        return None
    return max(
        0.0,
        min((max(t or now, lease or now) - now).total_seconds() for t, lease in times),
    )
