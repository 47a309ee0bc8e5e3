"""Shared HTTP plumbing for the channels: one JSON POST, its error mapping and a rate limiter.

Failures become ChannelError:

* connection errors and timeouts → retryable
* HTTP 5xx, 408, 429 → retryable
* any other non-2xx answer → not retryable

Error messages name the channel, the host and path (never the query: robot webhooks
carry their token there), the status and at most 200 characters of the answer, with
the message text and the phone number blanked out in case the gateway echoes them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from sanqing.clock import current as current_clock
from sanqing.errors import ChannelError
from sanqing.privacy import mask_text

DEFAULT_TIMEOUT_S = 10.0
MAX_BODY_CHARS = 200
RETRYABLE_STATUS = frozenset({408, 429})
_REDACT_RUN = 6  # a run this long shared with the message text is taken as an echo of it


class RateLimiter:
    """Thread-safe token bucket: `per_second` tokens a second, at most `burst` saved up.

    ``per_second <= 0`` means unlimited. The clock and sleep are those of
    :func:`sanqing.clock.current` when it is made, unless given.
    """

    def __init__(
        self,
        per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.per_second = per_second
        self._burst = max(1, burst)
        self._clock = clock or current_clock().monotonic
        self._sleep = sleep or current_clock().sleep
        self._lock = threading.Lock()
        self._tokens = float(self._burst)
        self._last = self._clock()

    def acquire(self) -> float:
        """Take a token, sleeping until it is free; returns the seconds waited."""
        if self.per_second <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self.per_second)
            self._last = now
            # Reserve the token now, even if it is only free later: the debt makes the
            # next caller wait behind us, and the sleep happens outside the lock.
            self._tokens -= 1
            wait = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


def where(url: str) -> str:
    """``scheme://host/path`` of a URL, without the query (robot tokens live there)."""
    try:
        u = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{u.host}{port}{u.path}"


def redact(body: str, secrets: Iterable[str | None]) -> str:
    """Blank out of ``body`` anything it shares with ``secrets``, and mask phone/ID numbers."""
    covered = [False] * len(body)
    for secret in secrets:
        if not secret:
            continue
        n = min(_REDACT_RUN, len(secret))
        runs = {secret[i : i + n] for i in range(len(secret) - n + 1)}
        for i in range(len(body) - n + 1):
            if body[i : i + n] in runs:
                covered[i : i + n] = [True] * n
    out: list[str] = []
    for ch, hidden in zip(body, covered, strict=True):
        if not hidden:
            out.append(ch)
        elif not out or out[-1] != "[redacted]":
            out.append("[redacted]")
    return mask_text("".join(out))


def _snippet(response: httpx.Response, secrets: Iterable[str | None]) -> str:
    try:
        # Re-dump JSON unescaped so that an echo written as \\uXXXX is found too.
        body = json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        body = response.text
    body = redact(body[: MAX_BODY_CHARS * 10], secrets).strip()
    return body if len(body) <= MAX_BODY_CHARS else body[:MAX_BODY_CHARS] + "…"


def post_json(
    client: httpx.Client,
    url: str,
    body: Mapping[str, Any],
    *,
    channel: str,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
) -> Any:
    """POST ``body`` as JSON; return the parsed JSON answer (None when it is not JSON).

    Raises ChannelError; ``secrets`` (message text, phone number) are kept out of its message.
    """
    secrets = list(secrets)
    at = where(url)
    try:
        response = client.post(url, json=dict(body), headers=dict(headers or {}))
    except httpx.TimeoutException as exc:
        raise ChannelError(
            f"{channel}: {at} timed out ({type(exc).__name__})", retryable=True
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        # A configuration mistake: trying again will not mend it.
        raise ChannelError(
            f"{channel}: {at}: bad URL ({type(exc).__name__})", retryable=False, channel_wide=True
        ) from exc
    except httpx.TransportError as exc:
        raise ChannelError(
            f"{channel}: cannot reach {at} ({type(exc).__name__}: {redact(str(exc), secrets)})",
            retryable=True,
        ) from exc
    status = response.status_code
    if not 200 <= status < 300:
        retryable = status >= 500 or status in RETRYABLE_STATUS
        raise ChannelError(
            f"{channel}: HTTP {status} from {at}: {_snippet(response, secrets)}",
            retryable=retryable,
            # a wrong key (401/403) or URL (404/405) fails every message alike
            channel_wide=status in (401, 403, 404, 405),
        )
    try:
        return response.json()
    except ValueError:
        return None


def answer_id(answer: Any) -> str | None:
    """The message id in a gateway's JSON answer (``id`` or ``message_id``), if any."""
    if not isinstance(answer, dict):
        return None
    found = answer.get("id", answer.get("message_id"))
    return None if found is None else str(found)


def check_errcode(
    answer: Any, *, channel: str, retryable: Iterable[int], secrets: Iterable[str | None] = ()
) -> None:
    """Raise ChannelError unless a robot's answer is ``{"errcode": 0, ...}``.

    Group robots answer HTTP 200 and put the outcome in ``errcode``.
    """
    if not isinstance(answer, dict) or "errcode" not in answer:
        # Not the robot talking (a proxy page?): we cannot tell if it was posted.
        raise ChannelError(f"{channel}: answer without errcode", retryable=False)
    code = answer["errcode"]
    if code == 0:
        return
    errmsg = redact(str(answer.get("errmsg", "")), secrets)[:MAX_BODY_CHARS]
    raise ChannelError(f"{channel}: errcode {code}: {errmsg}", retryable=code in set(retryable))


class HttpSender:
    """Base of the HTTP channels: one httpx.Client and one rate limiter per sender."""

    name = "http"
    idempotent = False

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, rate_per_s: float = 0) -> None:
        self.timeout_s = timeout_s
        self.limiter = RateLimiter(rate_per_s)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": "sanqing"},
            follow_redirects=False,  # a redirected POST may turn into a GET: fail loudly instead
        )

    def _post(
        self,
        url: str,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str | None] = (),
    ) -> Any:
        self.limiter.acquire()
        return post_json(
            self._client, url, body, channel=self.name, headers=headers, secrets=secrets
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_MOBILE = re.compile(r"1[3-9]\d{9}")


def mobile(to: str | None) -> str | None:
    """The recipient when it is a mainland mobile number (robots can @-mention it), else None."""
    return to if to and _MOBILE.fullmatch(to) else None
