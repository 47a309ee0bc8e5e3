"""The 收到 link: a signed link in a cadre's message that answers that message's task.

A link names one notice and when it stops working: ``?n=<notice id>&e=<expiry, Unix
seconds>&t=<signature>``, the signature being over ``<notice id>|<expiry>``, so neither
can be changed. Tapped, it acknowledges that notice only (and, for a resend or a
hand-up, the task it copies): a task sent later, or a newer version of the list,
still needs its own answer.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, update
from sqlmodel import Session, col, select

from sanqing.delivery.acknowledge import COPIES, NEEDS_ACK, SENT, role_and_name
from sanqing.errors import LinkExpired, LinkForged, LinkMalformed
from sanqing.models import Activation, Cadre, Notice, NoticeStatus, Town, utcnow
from sanqing.response import get_activation, log_event
from sanqing.settings import get_settings

#: Hex digits of the signature in a link (128 bits).
TOKEN_HEX = 32
_HEX = frozenset("0123456789abcdef")


def ack_token(notice_id: str, expires: int | str, secret: str) -> str:
    """The signature of a 收到 link: HMAC-SHA256 over ``<notice id>|<expiry>``."""
    message = f"{notice_id}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:TOKEN_HEX]


def ack_link(notice: Notice, *, now: datetime | None = None) -> str | None:
    """The link a cadre taps to say 收到, when ``SANQING_ACK_URL`` and the secret are set.

    ``now`` is when the notice is sent: the link works ``ack_link_ttl_hours`` from then.
    """
    settings = get_settings()
    if not (settings.ack_url and settings.ack_secret):
        return None
    if notice.channel not in NEEDS_ACK or notice.audience != "cadre":
        return None
    expires = int(((now or utcnow()) + timedelta(hours=settings.ack_link_ttl_hours)).timestamp())
    token = ack_token(notice.id, expires, settings.ack_secret)
    query = urllib.parse.urlencode({"n": notice.id, "e": expires, "t": token})
    sep = "&" if "?" in settings.ack_url else "?"
    return f"{settings.ack_url}{sep}{query}"


def acknowledge_link(
    session: Session, *, notice_id: str, expires: str, token: str, now: datetime | None = None
) -> int:
    """A tapped 收到 link: check it, then its task counts as answered.

    Returns how many notices it acknowledged (0: it was answered before). Raises
    LinkMalformed, LinkForged or LinkExpired (each a LinkError with its HTTP status).
    """
    now = now or utcnow()
    secret = get_settings().ack_secret
    if not secret:
        raise LinkForged("收到 links are not enabled here (no SANQING_ACK_SECRET)")
    if not notice_id or not expires.isascii() or not expires.isdigit():
        raise LinkMalformed("the link lacks its task or expiry (or was cut short)")
    if not token.isascii() or len(token) != TOKEN_HEX or not set(token) <= _HEX:
        raise LinkMalformed("the link's signature is cut short or damaged")
    # compare bytes: compare_digest refuses str with non-ASCII characters
    if not hmac.compare_digest(ack_token(notice_id, expires, secret).encode(), token.encode()):
        raise LinkForged("the link is not valid (signature)")
    notice = session.get(Notice, notice_id)
    if notice is None or notice.channel not in NEEDS_ACK:
        raise LinkForged("the link names no task")
    if int(expires) <= now.timestamp():
        until = datetime.fromtimestamp(int(expires), tz=UTC).isoformat()
        raise LinkExpired(f"the link expired at {until}", duty_phone=_duty_phone(session, notice))
    return _acknowledge_notice(session, notice, now=now)


def _duty_phone(session: Session, notice: Notice) -> str:
    act = session.get(Activation, notice.activation_id)
    town = session.get(Town, act.town_code) if act else None
    return town.duty_phone if town else ""


def _acknowledge_notice(session: Session, notice: Notice, *, now: datetime) -> int:
    """Mark this notice answered, with the task it copies and that task's other copies.

    Conditional updates: two taps at once acknowledge (and log) once.
    """
    original = (notice.payload or {}).get("original") if notice.purpose in COPIES else None
    root = str(original or notice.id)
    ids = [
        notice.id,
        root,
        *session.exec(
            select(Notice.id).where(
                col(Notice.id).startswith(root + ":"), col(Notice.purpose).in_(COPIES)
            )
        ),
    ]
    unanswered = and_(col(Notice.id).in_(ids), col(Notice.acknowledged_at).is_(None))
    session.execute(
        update(Notice)
        .where(unanswered, col(Notice.status).in_(SENT))
        .values(status=NoticeStatus.ACKNOWLEDGED)
    )
    # a row whose send is not recorded yet (or failed after) keeps its status; it is answered
    done = session.execute(update(Notice).where(unanswered).values(acknowledged_at=now))
    count = int(done.rowcount)  # type: ignore[attr-defined]
    if count:
        act = get_activation(session, notice.activation_id)
        cadre = session.exec(
            select(Cadre).where(Cadre.town_code == act.town_code, Cadre.code == notice.recipient)
        ).first()
        who = {cadre.code: cadre} if cadre else {}
        log_event(
            session,
            activation_id=notice.activation_id,
            key=f"acked:{notice.id}",
            actor=cadre.name if cadre else notice.recipient,
            action="已叫应",
            detail=f"{role_and_name(who, notice.recipient)}点击链接确认收到任务",
            at=now,
            simulated=act.drill,
        )
    return count
