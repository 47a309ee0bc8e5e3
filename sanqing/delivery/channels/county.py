"""The county's report receiver (县级报送接口): reports upward as JSON.

``POST <url>`` with ``{"kind", "seq", "title", "text", "payload"}``,
``Idempotency-Key: <outbox row id>`` and, when a key is set, ``Authorization: Bearer <key>``.
The receiver de-duplicates on the key, so a retry after a timeout is safe.
"""

from __future__ import annotations

from sanqing.delivery.channels.base import Message, SendResult
from sanqing.delivery.channels.http import DEFAULT_TIMEOUT_S, HttpSender, answer_id
from sanqing.errors import ChannelError

# The values of sanqing.models.ReportKind, repeated so channels need no ORM import.
KINDS = frozenset({"initial", "follow_up", "final", "daily"})


class CountyReceiver(HttpSender):
    """Sends reports (首报 / 续报 / 终报 / 日报) to the county (name "county")."""

    name = "county"
    idempotent = True

    def __init__(
        self, url: str, key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self.url = url
        self._key = key

    def send(self, msg: Message) -> SendResult:
        """Send one report; raises ChannelError."""
        payload = msg.payload
        if not payload or "kind" not in payload or "seq" not in payload:
            raise ChannelError("county: report without payload kind and seq", retryable=False)
        if payload["kind"] not in KINDS:
            raise ChannelError(
                f"county: unknown report kind {payload['kind']!r}; one of {sorted(KINDS)}",
                retryable=False,
            )
        headers = {"Idempotency-Key": msg.key}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        answer = self._post(
            self.url,
            {
                "kind": payload["kind"],
                "seq": payload["seq"],
                "title": msg.subject,
                "text": msg.text,
                "payload": payload,
            },
            headers=headers,
            secrets=(msg.text,),
        )
        return SendResult(provider_id=answer_id(answer))
