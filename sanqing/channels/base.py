"""What every delivery channel shares: the message, the result, the error and the protocol."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol

from sanqing.errors import SanqingError


@dataclass(frozen=True)
class Message:
    """One message to send on one channel."""

    key: str  # idempotency key: the outbox row id (stable across retries)
    channel: str  # "sms" | "wecom" | "dingtalk" | "county" | "loudspeaker"
    to: str | None  # phone number for sms; None for group robots / county
    subject: str
    text: str
    payload: dict[str, Any] | None = None  # county: the report's JSON payload; has "kind", "seq"


@dataclass(frozen=True)
class SendResult:
    """What a channel tells us about a send that worked."""

    provider_id: str | None = None  # the gateway's message id, when it gives one
    detail: str = ""


class ChannelError(SanqingError):
    """A send that failed; `retryable` says whether trying again later may work."""

    retryable: bool
    #: The channel, not the message, is wrong (a bad key, URL or address): every message
    #: would fail the same way. The deliverer stops the channel and keeps its rows pending.
    channel_wide: bool

    def __init__(self, message: str, *, retryable: bool, channel_wide: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.channel_wide = channel_wide

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as cls(*args); the keyword-only flags must travel too
        # (Prefect may pickle a failed task's exception).
        return (
            functools.partial(type(self), retryable=self.retryable, channel_wide=self.channel_wide),
            self.args,
        )


class Sender(Protocol):
    """A delivery channel. `send` raises ChannelError; `close` frees its connections."""

    name: str
    idempotent: bool  # True when the endpoint de-duplicates on our Idempotency-Key

    def send(self, msg: Message) -> SendResult: ...

    def close(self) -> None: ...
