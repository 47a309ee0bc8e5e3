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
left alone for the rest of the pass, so it does not hold up the others.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select

from sanqing.acknowledge import ack_link
from sanqing.channels.base import ChannelError, Message, Sender
from sanqing.db import session_scope
from sanqing.models import Notice, NoticeStatus, Report, utcnow
from sanqing.response import log_event

#: Seconds to wait before the n-th retry (the last value repeats).
BACKOFF_S = (5, 30, 120, 300, 900)
#: Retryable failures in a row after which a channel is skipped for the rest of a pass.
CHANNEL_DOWN_AFTER = 3


@dataclass
class DeliveryStats:
    """Per channel: how many rows ended in each status in this pass, and what is left."""

    by_channel: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    channels_down: set[str] = field(default_factory=set)
    expired: int = 0

    def add(self, channel: str, status: str) -> None:
        self.by_channel[channel][status] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {ch: dict(sorted(c.items())) for ch, c in sorted(self.by_channel.items())}


def outbox_counts(activation_id: str | None = None) -> dict[str, dict[str, int]]:
    """{channel: {sent, failed, pending, expired, …}} as the outbox has them now."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with session_scope() as session:
        query = select(Notice.channel, Notice.status).where(
            Notice.status != NoticeStatus.SUPERSEDED
        )
        if activation_id:
            query = query.where(Notice.activation_id == activation_id)
        for channel, status in session.exec(query):
            out[channel][status] = out[channel].get(status, 0) + 1
    for counts in out.values():
        for status in ("sent", "failed", "pending"):
            counts.setdefault(status, 0)
    return {ch: dict(sorted(c.items())) for ch, c in sorted(out.items())}


def last_errors(activation_id: str) -> dict[str, str]:
    """Per channel, the latest reason a message of the activation did not go (if any)."""
    with session_scope() as session:
        rows = session.exec(
            select(Notice.channel, Notice.last_error)
            .where(
                Notice.activation_id == activation_id,
                col(Notice.last_error).is_not(None),
                col(Notice.status).in_(["pending", "failed", "expired"]),
            )
            .order_by(col(Notice.created_at))
        )
        return {channel: error for channel, error in rows if error}


def expire_overdue(*, now: datetime, ttl: timedelta, activation_id: str | None = None) -> int:
    """Mark pending rows past their expiry as expired; one timeline line per activation."""
    with session_scope() as session:
        query = select(Notice).where(
            Notice.status == NoticeStatus.PENDING,
            # a row in flight is left to its deliverer: its send may yet succeed
            or_(col(Notice.lease_until).is_(None), col(Notice.lease_until) <= now),
        )
        if activation_id:
            query = query.where(Notice.activation_id == activation_id)
        expired: Counter[str] = Counter()
        for n in session.exec(query):
            until = n.expires_at or n.created_at + ttl
            if until <= now:
                n.status, n.lease_until, n.lease_owner = NoticeStatus.EXPIRED.value, None, None
                n.last_error = (n.last_error or "not delivered") + f"; expired {until.isoformat()}"
                session.add(n)
                expired[n.activation_id] += 1
        for act_id, count in expired.items():
            log_event(
                session,
                activation_id=act_id,
                key=f"expired:{now.isoformat()}",
                actor="发送系统",
                action="通知过期未送达",
                detail=f"{count}条通知超过时限仍未送达，已转人工核实",
                at=now,
            )
        return sum(expired.values())


def claim(
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    channels: Iterable[str],
    limit: int,
    activation_id: str | None = None,
) -> list[str]:
    """Take up to ``limit`` due rows of these channels for ``owner``; a row goes to one owner."""
    due = and_(
        col(Notice.status) == NoticeStatus.PENDING,
        or_(col(Notice.next_attempt_at).is_(None), col(Notice.next_attempt_at) <= now),
        or_(col(Notice.lease_until).is_(None), col(Notice.lease_until) <= now),
    )
    with session_scope() as session:
        query = (
            select(Notice.id)
            .where(due, col(Notice.channel).in_(list(channels)))
            .order_by(col(Notice.created_at), col(Notice.id))
            .limit(limit)
        )
        if activation_id:
            query = query.where(Notice.activation_id == activation_id)
        candidates = list(session.exec(query))
    if not candidates:
        return []
    until = now + lease
    with session_scope() as session:  # one conditional UPDATE: a row goes to one owner
        session.execute(
            update(Notice)
            .where(col(Notice.id).in_(candidates), due)
            .values(lease_until=until, lease_owner=owner)
        )
    with session_scope() as session:
        return list(
            session.exec(
                select(Notice.id)
                .where(col(Notice.lease_owner) == owner, col(Notice.lease_until) == until)
                .order_by(col(Notice.created_at), col(Notice.id))
            )
        )


def _renew(nid: str, owner: str, now: datetime, lease: timedelta) -> bool:
    """Hold the row a while longer just before sending; False when the lease was lost.

    A slow channel (a rate-limited robot) may outlast the lease of a big batch: a row
    whose lease ran out may have gone to another deliverer, so this one must not send it.
    """
    with session_scope() as session:
        result = session.execute(
            update(Notice)
            .where(
                col(Notice.id) == nid,
                col(Notice.lease_owner) == owner,
                col(Notice.lease_until) > now,
                col(Notice.status) == NoticeStatus.PENDING,
            )
            .values(lease_until=now + lease)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _message(n: Notice) -> Message:
    text = n.body
    if link := ack_link(n):  # a cadre's task: the link they tap to say 收到 (叫应)
        text += ("\n收到请点击确认：" if n.locale == "zh-CN" else "\nTap to confirm: ") + link
    return Message(
        key=n.id,
        channel=n.channel,
        to=n.address,
        subject=n.subject,
        text=text,
        payload=n.payload,
    )


def _record(nid: str, owner: str, **values: Any) -> bool:
    """Write the outcome if this owner still holds the row (a late deliverer writes nothing)."""
    with session_scope() as session:
        result = session.execute(
            update(Notice)
            .where(col(Notice.id) == nid, col(Notice.lease_owner) == owner)
            .values(lease_until=None, lease_owner=None, **values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if values.get("status") == NoticeStatus.SENT.value:
            n = session.get(Notice, nid)
            if n is not None and n.channel == "county" and n.payload:
                report = session.get(Report, n.payload.get("report_id"))
                if report is not None:
                    report.status = NoticeStatus.SENT.value
                    session.add(report)
        return True


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
) -> DeliveryStats:
    """Send every due row of the channels in ``senders``; return what happened in this pass.

    ``after_send`` runs between a send and its record (tests simulate a crash there).
    """
    owner = owner or f"deliverer-{uuid.uuid4().hex[:12]}"
    stats = DeliveryStats()
    stats.expired = expire_overdue(now=now(), ttl=ttl, activation_id=activation_id)
    failures_in_a_row: Counter[str] = Counter()
    while True:
        open_channels = [ch for ch in senders if ch not in stats.channels_down]
        if not open_channels:
            break
        ids = claim(
            owner=owner,
            now=now(),
            lease=lease,
            channels=open_channels,
            limit=batch,
            activation_id=activation_id,
        )
        if not ids:
            break
        with session_scope() as session:
            rows = {n.id: n for n in session.exec(select(Notice).where(col(Notice.id).in_(ids)))}
        for nid in ids:
            n = rows[nid]
            if n.channel in stats.channels_down:  # release it untouched for a later pass
                _record(nid, owner)
                continue
            if not _renew(nid, owner, now(), lease):
                stats.add(n.channel, "lost")
                continue
            attempts = n.attempts + 1
            try:
                try:
                    result = senders[n.channel].send(_message(n))
                except ChannelError:
                    raise
                except Exception as exc:  # a sender's own bug or a full disk: retry this row
                    raise ChannelError(
                        f"{n.channel}: {type(exc).__name__}", retryable=True
                    ) from exc
            except ChannelError as exc:
                last = str(exc)[:500]
                if exc.channel_wide:
                    # The channel is misconfigured: keep the row, stop the channel, say why.
                    _record(nid, owner, last_error=last)
                    stats.add(n.channel, "channel_error")
                    stats.channels_down.add(n.channel)
                    continue
                if exc.retryable and attempts < max_attempts:
                    wait = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
                    _record(
                        nid,
                        owner,
                        attempts=attempts,
                        last_error=last,
                        next_attempt_at=now() + timedelta(seconds=wait),
                    )
                    stats.add(n.channel, "retry")
                    failures_in_a_row[n.channel] += 1
                    if failures_in_a_row[n.channel] >= CHANNEL_DOWN_AFTER:
                        stats.channels_down.add(n.channel)
                else:
                    _record(
                        nid,
                        owner,
                        attempts=attempts,
                        last_error=last,
                        status=NoticeStatus.FAILED.value,
                    )
                    stats.add(n.channel, "failed")
                continue
            if after_send is not None:
                after_send(n)
            failures_in_a_row[n.channel] = 0
            if _record(
                nid,
                owner,
                attempts=attempts,
                status=NoticeStatus.SENT.value,
                sent_at=now(),
                provider_id=result.provider_id,
                last_error=None,
            ):
                stats.add(n.channel, "sent")
    return stats


def deliver_until_settled(
    *,
    activation_id: str | None = None,
    settle_s: float = 0,
    senders: Mapping[str, Sender] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> DeliveryStats:
    """Deliver with the configured senders; go on retrying what falls due within ``settle_s``.

    The drill settles for a while so its summary says what went; the schedule does
    one pass (``settle_s=0``) and leaves the rest to its next run.
    """
    import time

    from sanqing.channels.config import senders_from_settings
    from sanqing.settings import get_settings

    settings = get_settings()
    own = senders is None
    senders = senders if senders is not None else senders_from_settings(settings)
    sleep = sleep or time.sleep
    deadline = time.monotonic() + settle_s
    total = DeliveryStats()
    try:
        while True:
            stats = deliver_outbox(
                senders,
                activation_id=activation_id,
                ttl=timedelta(hours=settings.message_ttl_hours),
                max_attempts=settings.delivery_max_attempts,
            )
            for ch, counts in stats.by_channel.items():
                total.by_channel[ch].update(counts)
            total.channels_down |= stats.channels_down
            total.expired += stats.expired
            wait = _next_due_in(activation_id)
            if wait is None or time.monotonic() + wait > deadline:
                return total
            sleep(max(wait, 0.2))
    finally:
        if own:
            for sender in senders.values():
                sender.close()


def _next_due_in(activation_id: str | None) -> float | None:
    """Seconds until the next pending row may be tried again (None: nothing pending)."""
    with session_scope() as session:
        query = select(Notice.next_attempt_at).where(Notice.status == NoticeStatus.PENDING)
        if activation_id:
            query = query.where(Notice.activation_id == activation_id)
        times = list(session.exec(query))
    if not times:
        return None
    now = utcnow()
    return max(0.0, min(((t or now) - now).total_seconds() for t in times))


def record_receipt(*, key: str, status: str, error: str = "", now: datetime | None = None) -> bool:
    """A gateway's delivery receipt for the message with this idempotency key.

    ``delivered``: the row becomes ``delivered`` (it reached the phone). ``failed``: the
    row fails with the gateway's reason, so the fallback puts the household on its
    cadre's call list. Returns False for an unknown key; a repeated receipt changes nothing.
    """
    if status not in ("delivered", "failed"):
        raise ValueError(f"receipt status must be delivered or failed, not {status!r}")
    now = now or utcnow()
    with session_scope() as session:
        n = session.get(Notice, key)
        if n is None:
            return False
        if n.status != NoticeStatus.SENT:  # pending, already receipted, acknowledged …
            return True
        if status == "delivered":
            n.status, n.delivered_at = NoticeStatus.DELIVERED.value, now
        else:
            n.status = NoticeStatus.FAILED.value
            n.last_error = f"gateway receipt: {error}"[:500]
        session.add(n)
        return True
