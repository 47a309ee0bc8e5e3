"""DingTalk (钉钉) group robot, optionally with a signed webhook (加签).

With a secret, every request gets ``&timestamp=<ms>&sign=<sign>`` where sign is
``urlencode(base64(hmac_sha256(key=secret, msg=f"{timestamp}\\n{secret}")))``, as
DingTalk documents it. DingTalk answers ``{"errcode": 0}``; 130101 (sending too
fast) and -1 (system busy) may pass later, other errcodes will not. A robot takes
at most 20 messages a minute: set ``rate_per_s`` to about 0.3.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from sanqing.delivery.channels.base import Message, SendResult
from sanqing.delivery.channels.http import DEFAULT_TIMEOUT_S, HttpSender, check_errcode, mobile

RETRYABLE_ERRCODES = frozenset({130101, -1})


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature for ``timestamp_ms``, URL-encoded, ready for the query."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


class DingTalkRobot(HttpSender):
    """Posts into a DingTalk group through its robot webhook (name "dingtalk")."""

    name = "dingtalk"
    idempotent = False

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        rate_per_s: float = 0,
        markdown: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(timeout_s=timeout_s, rate_per_s=rate_per_s)
        self.url = url
        self._secret = secret
        self.markdown = markdown
        self._clock = clock

    def signed_url(self) -> str:
        """The webhook URL, with timestamp and sign when a secret is set."""
        if not self._secret:
            return self.url
        ts = round(self._clock() * 1000)
        sep = "&" if "?" in self.url else "?"
        # Built by hand rather than with params=: the sign is already URL-encoded.
        return f"{self.url}{sep}timestamp={ts}&sign={sign(self._secret, ts)}"

    def send(self, msg: Message) -> SendResult:
        """Post the message; raises ChannelError."""
        body: dict[str, Any]
        if self.markdown:
            # DingTalk requires a title: it is what the chat list shows.
            title = msg.subject or msg.text.strip().split("\n", 1)[0][:30]
            body = {"msgtype": "markdown", "markdown": {"title": title, "text": msg.text}}
        else:
            body = {"msgtype": "text", "text": {"content": msg.text}}
        if who := mobile(msg.to):  # a cadre's task: @ them in the group so their phone rings
            body["at"] = {"atMobiles": [who], "isAtAll": False}
        # Signed afresh on every try: DingTalk refuses a timestamp older than an hour.
        answer = self._post(
            self.signed_url(),
            body,
            headers={"Idempotency-Key": msg.key},
            secrets=(msg.text,),
        )
        check_errcode(answer, channel=self.name, retryable=RETRYABLE_ERRCODES, secrets=(msg.text,))
        return SendResult()
