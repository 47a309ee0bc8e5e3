"""Fake HTTP endpoints for tests: a gateway, a robot webhook or the county receiver on 127.0.0.1.

Usage, from a fixture or plain code::

    with FakeEndpoint(dedupe=True) as ep:
        ep.fail_next(1, status=503)
        sender = SmsGateway(ep.url("/sms"))
        ...
        assert ep.requests[-1].headers["idempotency-key"] == "k1"

Every request is recorded, failed ones too, with its place in one arrival order
shared by all fakes of the process (``seq``), so a test can say which of two
endpoints got what first. A request counts as delivered when it was answered 2xx
without a nonzero ``errcode`` (the robots' way of refusing). With ``dedupe=True`` a
repeated ``Idempotency-Key`` gets the first answer again, is counted in
``duplicates`` and is not delivered again; without it, a repeat is delivered again
(what a robot does) and also counted in ``duplicates``. ``accepted`` counts, per
key, the answers that delivered it (more than one only where nothing de-duplicates).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

#: One arrival order across every fake endpoint of the process (itertools.count is atomic).
_ARRIVALS = itertools.count(1)


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    raw_query: str  # as sent, still URL-encoded
    query: dict[str, str]  # decoded, last value wins
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or the text when it was not JSON
    key: str | None  # the Idempotency-Key header
    status: int  # what the fake answered
    duplicate: bool = False  # answered from the de-duplication cache
    seq: int = 0  # place in the arrival order shared by all fakes


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in a delay must not hold up stop()
    endpoint: FakeEndpoint

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client gave up (its timeout) before we answered: expected, not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        status, answer = self.server.endpoint._handle(self)
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_PUT = do_POST
    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows the recorded requests when an assertion fails


class FakeEndpoint:
    """A JSON HTTP server on 127.0.0.1 (a free port) that records what it gets."""

    def __init__(self, *, dedupe: bool = False, reply: dict[str, Any] | None = None) -> None:
        self.dedupe = dedupe
        self._reply = reply
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[Recorded] = []
        self._failures: list[tuple[int, Any]] = []  # (status, body) for the next requests
        self._delays: list[float] = []  # seconds, for the next requests
        self._every: tuple[int, int] | None = None  # (n, status): fail every n-th request
        self._each: tuple[int, int] | None = None  # (times, status): each key's first tries
        self._tries: Counter[str] = Counter()  # Idempotency-Key → requests so far
        self._answers: dict[str, tuple[int, Any]] = {}  # Idempotency-Key → first answer
        self._ids = 0
        self.delivered: dict[str, Any] = {}  # Idempotency-Key → body, first delivery
        self.accepted: Counter[str] = Counter()  # Idempotency-Key → answers that delivered it
        self.duplicates = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- running ---------------------------------------------------------------------------

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.endpoint = self
        self._server = server
        self._stopping.clear()
        # A short poll interval: stop() waits up to one interval for the loop to notice.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cuts short any delay in progress
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the endpoint first"
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # --- behaviour -------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 500, body: Any = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``body``, default an error)."""
        with self._lock:
            self._failures += [(status, body or {"error": f"fake failure {status}"})] * n

    def fail_every(self, n: int, status: int = 503) -> None:
        """From now on answer every ``n``-th request with ``status`` (a flaky gateway)."""
        with self._lock:
            self._every = (n, status)

    def fail_each(self, times: int, status: int = 503) -> None:
        """From now on answer the first ``times`` requests of each Idempotency-Key with ``status``.

        Every message is then retried ``times`` times, whatever order they come in.
        """
        with self._lock:
            self._each = (times, status)

    def delay_next(self, n: int, seconds: float) -> None:
        """Hold the answer to the next ``n`` requests for ``seconds`` (to make clients time out).

        The request is handled and recorded first: like a server whose answer comes too
        late, it may well have delivered what the client then gives up on.
        """
        with self._lock:
            self._delays += [seconds] * n

    def reply_json(self, body: dict[str, Any] | None) -> None:
        """Answer successful requests with ``body`` from now on (None: the default answer)."""
        with self._lock:
            self._reply = body

    # --- what happened ---------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far, in order of arrival."""
        with self._lock:
            return list(self._requests)

    def bodies(self, path: str | None = None) -> list[Any]:
        """The JSON bodies received (on ``path`` only, when given)."""
        return [r.body for r in self.requests if path is None or r.path == path]

    # --- the handler's side ----------------------------------------------------------------

    def _handle(self, h: _Handler) -> tuple[int, Any]:
        split = urllib.parse.urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in h.headers.items()}
        key = headers.get("idempotency-key")
        with self._lock:
            seq = next(_ARRIVALS)
            delay = self._delays.pop(0) if self._delays else 0.0
            duplicate = False
            if key is not None:
                self._tries[key] += 1
            if self._failures:
                status, answer = self._failures.pop(0)
            elif self._each and key is not None and self._tries[key] <= self._each[0]:
                status, answer = self._each[1], {"error": f"fake failure {self._each[1]}"}
            elif self._every and (len(self._requests) + 1) % self._every[0] == 0:
                status, answer = self._every[1], {"error": f"fake failure {self._every[1]}"}
            elif self.dedupe and key is not None and key in self._answers:
                (status, answer), duplicate = self._answers[key], True
                self.duplicates += 1
            else:
                self._ids += 1
                status = 200
                answer = self._reply or {"errcode": 0, "errmsg": "ok", "id": f"fake-{self._ids}"}
                if answer.get("errcode", 0) == 0:
                    k = key if key is not None else f"(no key {self._ids})"
                    if k in self.delivered:
                        self.duplicates += 1  # delivered twice: nothing de-duplicated it
                    else:
                        self.delivered[k] = body
                    self.accepted[k] += 1
                    if self.dedupe and key is not None:
                        self._answers[key] = (status, answer)
            self._requests.append(
                Recorded(
                    method=h.command,
                    path=split.path,
                    raw_query=split.query,
                    query=dict(urllib.parse.parse_qsl(split.query)),
                    headers=headers,
                    body=body,
                    key=key,
                    status=status,
                    duplicate=duplicate,
                    seq=seq,
                )
            )
        if delay:
            self._stopping.wait(delay)
        return status, answer


class SkippingClock:
    """A :class:`sanqing.clock.Clock` that does not wait: real time plus every wait skipped.

    ``sleep`` returns at once and moves this clock on by the wait, so code on it runs
    the real backoff schedule (5 s, 30 s …) without spending it; its times never fall
    behind the real ones the rest of the code writes. ``waits`` lists what was skipped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.skipped = 0.0
        self.waits: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skipped)

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.skipped += max(0.0, seconds)
