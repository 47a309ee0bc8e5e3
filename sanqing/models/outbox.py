"""The outbox: every notice and report to send, one row each, keyed by its idempotency key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from sanqing.models.columns import enum_column, ts
from sanqing.models.vocab import Channel, NoticeStatus, ReportKind


class Notice(SQLModel, table=True):
    """The outbox: every notice is written here before anything is sent."""

    __table_args__ = (Index("ix_notice_status_channel", "status", "channel"),)

    id: str = Field(primary_key=True)  # idempotency key: activation:channel:purpose:recipient
    activation_id: str = Field(foreign_key="activation.id", index=True)
    village_code: str | None = None
    channel: Channel = enum_column(Channel)
    purpose: str  # warning / relocation / door_visit / card / tasks / group / broadcast
    audience: str  # resident / cadre / group / public
    recipient: str  # household or cadre code, or village code for groups
    address: str | None = None  # phone number or group: personal data
    locale: str
    subject: str
    body: str
    body_format: str = "text"  # text / html
    status: NoticeStatus = enum_column(NoticeStatus, default=NoticeStatus.PENDING)
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = ts(nullable=False)
    sent_at: datetime | None = ts()
    # Delivery (sanqing/delivery/): when to try again, who holds the row while sending,
    # until when it may still go, and what the channel said.
    next_attempt_at: datetime | None = ts()
    lease_until: datetime | None = ts()
    lease_owner: str | None = None
    expires_at: datetime | None = ts()
    provider_id: str | None = None
    delivered_at: datetime | None = ts()  # the gateway's receipt: it reached the phone
    acknowledged_at: datetime | None = ts()
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Report(SQLModel, table=True):
    """A report upward (首报 / 续报 / 终报) as text, HTML and JSON payload."""

    id: str = Field(primary_key=True)
    activation_id: str = Field(foreign_key="activation.id", index=True)
    kind: ReportKind = enum_column(ReportKind)
    seq: int
    title: str
    text: str
    html: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    locale: str
    deadline_at: datetime = ts(nullable=False)
    created_at: datetime = ts(nullable=False)
    late: bool = False
    status: NoticeStatus = enum_column(NoticeStatus, default=NoticeStatus.PENDING)
