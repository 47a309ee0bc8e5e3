"""Whether the deliverer has anything to do now: a quiet night makes no runs.

The control room's deliverer is one long-running run an hour (``deliver-outbox``
with ``watch_minutes``): it looks every ``poll_s`` seconds and runs a delivery pass
only when a message is due (pending, its retry time come, not leased) or a cadre's
task has crossed a 叫应 deadline since the last look (resend, hand up the chain).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import col, select

from sanqing.db import session_scope
from sanqing.delivery.acknowledge import COPIES, NEEDS_ACK, SENT
from sanqing.models import Activation, ActivationStatus, Notice, NoticeStatus


def work_due(*, now: datetime, since: datetime, ack_within: timedelta) -> bool:
    """A message to send now, or an unanswered task whose next 叫应 step came in (since, now]."""
    pending = and_(
        col(Notice.status) == NoticeStatus.PENDING,
        or_(col(Notice.next_attempt_at).is_(None), col(Notice.next_attempt_at) <= now),
        or_(col(Notice.lease_until).is_(None), col(Notice.lease_until) <= now),
    )
    with session_scope() as session:
        if session.exec(select(Notice.id).where(pending).limit(1)).first() is not None:
            return True
        sent_at = list(
            session.exec(
                select(Notice.sent_at)
                .join(Activation, col(Activation.id) == col(Notice.activation_id))
                .where(
                    Activation.status == ActivationStatus.ACTIVE,
                    col(Notice.channel).in_(NEEDS_ACK),
                    Notice.audience == "cadre",
                    col(Notice.purpose).not_in(COPIES),
                    col(Notice.status).in_(SENT),
                    col(Notice.acknowledged_at).is_(None),
                    col(Notice.sent_at).is_not(None),
                )
            )
        )
    step = ack_within.total_seconds()
    return any(
        _steps(now, sent, step) > _steps(since, sent, step) for sent in sent_at if sent is not None
    )


def _steps(at: datetime, sent: datetime, step: float) -> int:
    """How many 叫应 deadlines of a task sent at ``sent`` have passed at ``at``."""
    return max(0, int((at - sent).total_seconds() // step))
