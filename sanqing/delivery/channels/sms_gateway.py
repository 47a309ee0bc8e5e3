"""SMS through an HTTP gateway that de-duplicates on our Idempotency-Key.

The gateway gets ``POST <url>`` with JSON ``{"to", "text", "segments", "sender", "template"}``
(None fields left out), ``Idempotency-Key: <outbox row id>`` and, when a key is
configured, ``Authorization: Bearer <key>``. An ``id`` (or ``message_id``) in its
JSON answer is kept as the provider id.
"""

from __future__ import annotations

from typing import Any

from sanqing.delivery.channels.base import Message, SendResult
from sanqing.delivery.channels.http import DEFAULT_TIMEOUT_S, HttpSender, answer_id
from sanqing.errors import ChannelError
from sanqing.outbox import sms


class SmsGateway(HttpSender):
    """Text messages to residents' phones (name "sms")."""

    name = "sms"
    idempotent = True

    def __init__(
        self,
        url: str,
        key: str | None = None,
        sender: str | None = None,
        template: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        rate_per_s: float = 0,
    ) -> None:
        super().__init__(timeout_s=timeout_s, rate_per_s=rate_per_s)
        self.url = url
        self._key = key
        self.sender = sender
        self.template = template

    def send(self, msg: Message) -> SendResult:
        """Send one SMS; raises ChannelError."""
        if not msg.to:
            raise ChannelError("sms: message has no phone number", retryable=False)
        if not msg.text:
            raise ChannelError("sms: message has no text", retryable=False)
        body: dict[str, Any] = {
            "to": msg.to,
            "text": msg.text,
            "segments": sms.segments(msg.text),
            "sender": self.sender,
            "template": self.template,
        }
        headers = {"Idempotency-Key": msg.key}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        answer = self._post(
            self.url,
            {k: v for k, v in body.items() if v is not None},
            headers=headers,
            secrets=(msg.to, msg.text),
        )
        return SendResult(provider_id=answer_id(answer), detail=f"{body['segments']} segment(s)")
