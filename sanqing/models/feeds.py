"""What the rain watch keeps: each warning received with its decision, and each feed's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from sanqing.models.columns import enum_column, json_list, ts
from sanqing.models.vocab import Level


class FeedRecord(SQLModel, table=True):
    """A warning received from a feed (or refused), and the decision taken on it."""

    id: str = Field(primary_key=True)  # sender|identifier (identifier alone when no sender)
    identifier: str = Field(index=True)
    sender: str = ""
    source_format: str
    source: str = ""
    msg_type: str
    status: str
    hazard: str | None = None
    colour: str | None = None
    sent: datetime | None = ts()
    expires: datetime | None = ts()
    warning: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    action: str  # Action
    reason: str = ""
    # The decision concerns drill activations (an Exercise/Test chain). None: a record
    # stored before this column, whose reason says it (``feeds.chains.DRILL_PREFIX``).
    drill: bool | None = None
    level: Level | None = enum_column(Level, default=None, nullable=True)
    town_codes: list[str] = json_list()
    village_codes: list[str] = json_list()
    activation_id: str | None = None
    done: bool = True  # False until the decision was carried out (activate/escalate/…)
    ended: bool = False  # cancelled, superseded by a cancel, all-clear or expired
    received_at: datetime = ts(nullable=False)
    # The open activations a stand-down or downgrade was decided for (one per town); it
    # acts on no other. None: a start, or a record stored before this column.
    targets: list[str] | None = Field(default=None, sa_column=Column(JSON))


class FeedState(SQLModel, table=True):
    """What the watch remembers of a feed between polls (conditional requests, last error)."""

    url: str = Field(primary_key=True)
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = ts()
    last_ok_at: datetime | None = ts()
    last_error: str | None = None
