"""The normalized warning every feed adapter produces, and the decision taken on it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sanqing.plans import Colour, Level

#: Why a time is refused although it is written correctly (see ``fits_utc``).
OUT_OF_RANGE = "is out of the calendar once converted to UTC (year 1-9999), as every time is stored"


def fits_utc(value: datetime) -> bool:
    """Whether an aware time can be converted to UTC (``9999-12-31T23:59-23:59`` cannot)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _storable(value: datetime | None) -> datetime | None:
    """A time sanqing can store: aware, and within the calendar in UTC."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise ValueError(f"time {value.isoformat()} has no offset from UTC")
    if not fits_utc(value):
        raise ValueError(f"time {value.isoformat()} {OUT_OF_RANGE}")
    return value


def _has_nul(value: Any) -> bool:
    """Whether a text inside ``value`` holds U+0000 (JSON may; PostgreSQL stores none)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, BaseModel):
        return any(_has_nul(v) for _, v in value)
    return False


class SourceFormat(StrEnum):
    CAP = "cap"
    QWEATHER_V1 = "qweather_v1"
    QWEATHER_V7 = "qweather_v7"
    MANUAL = "manual"


class Reference(BaseModel):
    """A message an Update or Cancel refers to (CAP ``references``: sender,identifier,sent)."""

    model_config = ConfigDict(frozen=True)

    sender: str = ""
    identifier: str
    sent: datetime | None = None

    @field_validator("sent")
    @classmethod
    def _sent_storable(cls, value: datetime | None) -> datetime | None:
        return _storable(value)


class FeedWarning(BaseModel):
    """One warning as sanqing understands it, whatever feed it came from.

    Unknown values of open vocabularies (event codes, severities, colours) are
    kept as they came and explained in ``notes``; they are never a crash.
    """

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1)
    sender: str = ""
    sent: datetime
    source_format: SourceFormat
    source: str = ""  # the file or URL it was read from
    msg_type: str = "Alert"  # Alert / Update / Cancel (CAP msgType)
    status: str = "Actual"  # Actual / Exercise / Test / Draft / System
    event: str = ""  # as published: 暴雨橙色预警 / Rainstorm
    event_code: str = ""  # as published: 11B03 / 1003
    hazard: str | None = None  # rainstorm / geological / flood; None: not a flood-plan hazard
    colour: Colour | None = None
    severity: str = ""  # Minor / Moderate / Severe / Extreme / Unknown
    headline: str = ""
    description: str = ""
    language: str = ""  # of the info block chosen for display (zh-CN preferred)
    onset: datetime | None = None
    expires: datetime | None = None
    response_types: list[str] = Field(default_factory=list)  # CAP responseType: AllClear …
    references: list[Reference] = Field(default_factory=list)
    area_desc: str = ""
    polygons: list[list[tuple[float, float]]] = Field(default_factory=list)  # (lat, lon) rings
    circles: list[tuple[float, float, float]] = Field(default_factory=list)  # lat, lon, km
    geocodes: list[tuple[str, str]] = Field(default_factory=list)  # (valueName, value)
    notes: list[str] = Field(default_factory=list)

    @field_validator("sent", "onset", "expires")
    @classmethod
    def _times_storable(cls, value: datetime | None) -> datetime | None:
        return _storable(value)

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        for name, value in self:
            if _has_nul(value):
                raise ValueError(f"{name} holds a NUL character (U+0000), which cannot be stored")
        return self

    @property
    def all_clear(self) -> bool:
        return any(r.lower() == "allclear" for r in self.response_types)


class ParseFailure(BaseModel):
    """A warning (or a whole document) that could not be read, and why."""

    source: str
    identifier: str | None = None
    reason: str


class ParseResult(BaseModel):
    """What one document gave: warnings, failures, and links still to fetch (Atom/RSS)."""

    warnings: list[FeedWarning] = Field(default_factory=list)
    failures: list[ParseFailure] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    # The feed's validators, saved only once everything it gave is decided.
    url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    complete: bool = True  # False: some linked message was not read; poll it whole again


class Action(StrEnum):
    ACTIVATE = "activate"
    ESCALATE = "escalate"
    DOWNGRADE = "downgrade"
    STAND_DOWN = "stand_down"
    DUPLICATE = "duplicate"
    IGNORE = "ignore"
    REJECT = "reject"


class Decision(BaseModel):
    """What a warning means for the towns it covers."""

    action: Action
    reason: str
    level: Level | None = None
    town_codes: list[str] = Field(default_factory=list)
    village_codes: list[str] = Field(default_factory=list)  # sorted
    drill: bool = False  # the activations concerned are drills (Exercise/Test chains)
