"""A feed server on 127.0.0.1 that never finishes an answer: one byte every half second.

``…/body``: the status line and headers at once, then the body a byte at a time (a
per-read timeout never fires). ``…/headers``: even the headers a byte at a time.
It trickles until the client hangs up, or for ``max_seconds`` at most (so that a
client without a deadline still ends, later, and the test can say what went wrong).
``hung_up_at[path]`` is the wall-clock time the client went away.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

BYTE_EVERY_S = 0.5
#: "Forever", as far as a test is concerned: far beyond any deadline the tests set.
MAX_SECONDS = 60.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    trickle: TrickleServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up: what we want


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        t = self.server.trickle
        t.requests.append(self.path)
        if self.path.endswith("/headers"):  # also through a proxy: an absolute URL
            # long enough that, a byte at a time, the headers alone outlast any test's patience
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                + b"X-Padding: "
                + b"." * 300
                + b"\r\n"
                + b"Content-Length: 100000\r\n\r\n"
            )
            self._trickle(t, self.path, head)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self._trickle(t, self.path, b"<" + b" " * 99_999)

    def _trickle(self, t: TrickleServer, path: str, data: bytes) -> None:
        started = time.monotonic()
        try:
            for i in range(len(data)):
                if t.stopping.is_set() or time.monotonic() - started > t.max_seconds:
                    break
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                t.stopping.wait(BYTE_EVERY_S)
        except OSError:  # BrokenPipe / ConnectionReset: the client hung up
            pass
        finally:
            t.hung_up_at[path] = time.time()
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class TrickleServer:
    """Serves every path a byte at a time (see the module docstring)."""

    def __init__(self, max_seconds: float = MAX_SECONDS) -> None:
        self.max_seconds = max_seconds
        self.requests: list[str] = []
        self.hung_up_at: dict[str, float] = {}
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.trickle = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
