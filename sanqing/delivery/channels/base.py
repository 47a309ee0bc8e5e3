"""What every delivery channel shares: the message, the result, the error and the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


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


class Sender(Protocol):
    """A delivery channel. `send` raises ChannelError; `close` frees its connections."""

    name: str
    idempotent: bool  # True when the endpoint de-duplicates on our Idempotency-Key

    def send(self, msg: Message) -> SendResult: ...

    def close(self) -> None: ...
