"""The one writer of outbox rows.

Every notice, task list, card, escalation, resend and report upward becomes a row
here, pending, stamped with the wall clock (a drill's clock runs ahead of it; the
outbox must not, or a deliverer would wait for the drill's hours), and written with
an upsert on its key: a step that runs again writes nothing new. A notice that
changes (a village's task list after new findings) gets a new version; its older
pending versions are superseded, never sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from sanqing.db import upsert
from sanqing.models import Channel, Notice, NoticeStatus, utcnow
from sanqing.outbox.keys import NoticeKey


def notice_row(
    key: NoticeKey,
    *,
    village_code: str | None,
    audience: str,
    recipient: str,
    address: str | None,
    locale: str,
    subject: str,
    body: str,
    body_format: str = "text",
    purpose: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A pending outbox row for ``key`` (``purpose`` when the row's differs from the key's)."""
    row: dict[str, Any] = {
        "id": str(key),
        "activation_id": key.activation_id,
        "village_code": village_code,
        "channel": Channel(key.channel).value,
        "purpose": purpose or key.purpose,
        "audience": audience,
        "recipient": recipient,
        "address": address,
        "locale": locale,
        "subject": subject,
        "body": body,
        "body_format": body_format,
        "status": NoticeStatus.PENDING,
        "attempts": 0,
        "created_at": utcnow(),
    }
    if payload is not None:
        row["payload"] = dict(payload)
    return row


def put(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Write the rows; a row whose key exists is left as it is. Returns how many were given."""
    rows = list(rows)
    if rows:
        upsert(session, Notice, rows)
    return len(rows)


def supersede(session: Session, ids: Iterable[str]) -> None:
    """Older versions that are still pending will not be sent: a newer one replaces them."""
    ids = list(ids)
    if ids:
        session.execute(
            update(Notice)
            .where(col(Notice.id).in_(ids), col(Notice.status) == NoticeStatus.PENDING)
            .values(status=NoticeStatus.SUPERSEDED)
        )
