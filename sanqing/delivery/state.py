"""The outbox as a deliverer sees it: counts, the lease on a row, outcomes and receipts.

A deliverer claims rows with a conditional UPDATE (a lease), so two deliverers
running at once never take the same row; it renews the lease while it sends and
records the outcome only while it still holds the row. Expired rows are marked
``expired`` and counted, never dropped silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select

from sanqing.db import session_scope
from sanqing.models import Notice, NoticeStatus, Report, utcnow
from sanqing.response import log_event


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
                n.status, n.lease_until, n.lease_owner = NoticeStatus.EXPIRED, None, None
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
                .where(
                    # the owner's other workers claim at the same time, maybe the same `until`
                    col(Notice.id).in_(candidates),
                    col(Notice.lease_owner) == owner,
                    col(Notice.lease_until) == until,
                )
                .order_by(col(Notice.created_at), col(Notice.id))
            )
        )


def renew(nid: str, owner: str, now: datetime, lease: timedelta) -> bool:
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


def record(nid: str, owner: str, **values: Any) -> bool:
    """Write the outcome if this owner still holds the row (a late deliverer writes nothing)."""
    with session_scope() as session:
        result = session.execute(
            update(Notice)
            .where(col(Notice.id) == nid, col(Notice.lease_owner) == owner)
            .values(lease_until=None, lease_owner=None, **values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        if values.get("status") == NoticeStatus.SENT:
            n = session.get(Notice, nid)
            if n is not None and n.channel == "county" and n.payload:
                report = session.get(Report, n.payload.get("report_id"))
                if report is not None:
                    report.status = NoticeStatus.SENT
                    session.add(report)
        return True


def record_receipt(*, key: str, status: str, error: str = "", now: datetime | None = None) -> bool:
    """A gateway's delivery receipt for the message with this idempotency key.

    ``delivered``: the row becomes ``delivered`` (it reached the phone). ``failed``: the
    row fails with the gateway's reason, so the fallback puts the household on its
    cadre's call list. Returns False for an unknown key; a repeated receipt changes nothing.
    """
    if status not in ("delivered", "failed"):
        raise ValueError(f"receipt status must be delivered or failed, not {status!r}")
    now = now or utcnow()
    if status == "delivered":
        values: dict[str, Any] = {"status": NoticeStatus.DELIVERED, "delivered_at": now}
    else:
        values = {
            "status": NoticeStatus.FAILED,
            "last_error": f"gateway receipt: {error}"[:500],
        }
    with session_scope() as session:
        if session.get(Notice, key) is None:
            return False
        # Only a row still "sent" changes (pending, already receipted, acknowledged … stay):
        # one conditional UPDATE, so two receipts at once cannot both apply.
        session.execute(
            update(Notice)
            .where(col(Notice.id) == key, col(Notice.status) == NoticeStatus.SENT)
            .values(**values)
        )
        return True
