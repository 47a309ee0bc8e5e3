"""WeCom (企业微信) group robot: a webhook that posts into a group chat.

WeCom answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; any other errcode
is a failure: 45009 (rate limit) and -1 (system busy) may pass, the others will not.
A robot takes at most 20 messages a minute: set ``rate_per_s`` to about 0.3.

Text content is limited to 2048 bytes of UTF-8, markdown to 4096. A longer text is
split on line boundaries into several posts, each a request of its own, sent in
order; joined with newlines they give the original text back. A single line longer
than the limit is cut between characters. If a later post fails, the earlier ones
have gone out already: the robot does not de-duplicate, so a retry repeats them.
Each post carries ``Idempotency-Key: <key>`` (``<key>#<n>`` for post n of several);
WeCom ignores it, a proxy or a test server may use it.
"""

from __future__ import annotations

from typing import Any

from sanqing.delivery.channels.base import Message, SendResult
from sanqing.delivery.channels.http import DEFAULT_TIMEOUT_S, HttpSender, check_errcode, mobile

TEXT_MAX_BYTES = 2048
MARKDOWN_MAX_BYTES = 4096
RETRYABLE_ERRCODES = frozenset({45009, -1})


def _cut_line(line: str, limit: int) -> list[str]:
    """Cut one line into pieces of at most ``limit`` UTF-8 bytes, between characters."""
    pieces: list[str] = []
    current, size = "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            pieces.append(current)
            current, size = "", 0
        current += ch
        size += n
    pieces.append(current)
    return pieces


def split_utf8(text: str, limit: int) -> list[str]:
    """Split ``text`` on line boundaries into parts of at most ``limit`` UTF-8 bytes."""
    parts: list[str] = []
    current: list[str] = []
    size = 0  # bytes of "\n".join(current)
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            n = len(piece.encode("utf-8"))
            if current and size + 1 + n > limit:
                parts.append("\n".join(current))
                current, size = [], 0
            size = size + 1 + n if current else n
            current.append(piece)
    parts.append("\n".join(current))
    return parts


class WeComRobot(HttpSender):
    """Posts into a WeCom group through its robot webhook (name "wecom")."""

    name = "wecom"
    idempotent = False

    def __init__(
        self,
        url: str,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        rate_per_s: float = 0,
        markdown: bool = False,
    ) -> None:
        super().__init__(timeout_s=timeout_s, rate_per_s=rate_per_s)
        self.url = url
        self.markdown = markdown

    def send(self, msg: Message) -> SendResult:
        """Post the text, in several posts when it is too long; raises ChannelError."""
        msgtype = "markdown" if self.markdown else "text"
        parts = split_utf8(msg.text, MARKDOWN_MAX_BYTES if self.markdown else TEXT_MAX_BYTES)
        for i, part in enumerate(parts, start=1):
            key = msg.key if len(parts) == 1 else f"{msg.key}#{i}"
            content: dict[str, Any] = {"content": part}
            if (who := mobile(msg.to)) and not self.markdown and i == 1:
                content["mentioned_mobile_list"] = [who]  # @ the cadre (text messages only)
            answer = self._post(
                self.url,
                {"msgtype": msgtype, msgtype: content},
                headers={"Idempotency-Key": key},
                secrets=(msg.text,),
            )
            check_errcode(
                answer, channel=self.name, retryable=RETRYABLE_ERRCODES, secrets=(msg.text,)
            )
        return SendResult(detail=f"{len(parts)} post(s)")
