"""The receiver of 收到 links (a cadre taps the link in a task and the chase stops) and
of the SMS gateway's delivery receipts (``POST /receipt``).

A small HTTP server (standard library): ``GET /ack?n=<notice>&e=<expiry>&t=<signature>``
answers a short page in Chinese: 200 confirmed (or confirmed before), 400 a cut or
damaged link, 403 a forged one or one for another task, 410 an expired one; the
refusals tell the cadre to call the duty room. Run it with ``sanqing ack-server``
(``sanqing serve`` starts it too when ``SANQING_ACK_URL`` is set); put it where the
cadres' phones reach it and point ``SANQING_ACK_URL`` at it.

It is built to stay up when many phones and a gateway's burst of receipts arrive at
once: a fixed pool of workers (``SANQING_ACK_WORKERS``) handles the connections, the
kernel holds up to ``LISTEN_BACKLOG`` more while they are busy, and a connection
that goes silent is dropped after ``SANQING_ACK_SOCKET_TIMEOUT_S``. Every request
gets an HTTP answer: bad bytes (a non-ASCII token or bearer, a wrong
``Content-Length``) a 400 or 413, never a dropped connection.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from sanqing.db import session_scope
from sanqing.delivery.links import acknowledge_link
from sanqing.delivery.state import record_receipt
from sanqing.errors import LinkError, LinkExpired, LinkMalformed
from sanqing.labels import label
from sanqing.settings import get_settings

logger = logging.getLogger(__name__)

#: Connections the kernel holds while every worker is busy: a gateway's burst of receipts.
LISTEN_BACKLOG = 256
#: The largest request body taken (a receipt is about 100 bytes).
MAX_BODY_BYTES = 64 * 1024
#: How often a full server checks, while it waits for a free worker, whether it is closing.
_WAIT_POLL_S = 0.5

PAGE = (
    '<!doctype html><html lang="{lang}"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    '<title>{title}</title><body style="font:20px sans-serif;margin:2em"><p>{text}</p></body></html>'
)


def _words(code: str, **params: str) -> str:
    """The page's words in the configured locale (labels.py, group ``ack_page``)."""
    return label(get_settings().locale, "ack_page", code).format(**params)


def _refusal(exc: LinkError) -> tuple[str, str]:
    """The title and text of the page for a link that is not taken."""
    call = _words("call_number", phone=exc.duty_phone) if exc.duty_phone else _words("call")
    kind = (
        "expired"
        if isinstance(exc, LinkExpired)
        else "malformed"
        if isinstance(exc, LinkMalformed)
        else "invalid"
    )
    return _words(f"{kind}_title"), _words(kind, call=call)


class _Handler(BaseHTTPRequestHandler):
    timeout = 10.0  # each server sets its own (settings.ack_socket_timeout_s)

    def do_GET(self) -> None:
        try:
            self._ack()
        except OSError:  # the connection itself broke: nothing to answer on
            raise
        except Exception:  # a bug or the database: answer, never drop the connection
            logger.exception("ack server: GET /ack failed")
            self._page(500, _words("error_title"), _words("error"))

    def do_POST(self) -> None:
        """``POST /receipt`` from the SMS gateway: ``{"key": …, "status": "delivered"|"failed"}``."""
        try:
            self._receipt()
        except OSError:
            raise
        except Exception:
            logger.exception("ack server: POST /receipt failed")
            self._json(500, {"error": "internal error; send the receipt again later"})

    def _ack(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path.rstrip("/") != "/ack":
            self._page(404, _words("not_found_title"), _words("not_found"))
            return
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            with session_scope() as session:
                n = acknowledge_link(
                    session,
                    notice_id=query.get("n", ""),
                    expires=query.get("e", ""),
                    token=query.get("t", ""),
                )
        except LinkError as exc:
            self._page(exc.status, *_refusal(exc))
            return
        self._page(200, _words("done_title"), _words("done" if n else "again"))

    def _receipt(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        token = get_settings().receipt_token
        if url.path.rstrip("/") != "/receipt":
            self._json(404, {"error": "not found"})
            return
        auth = self.headers.get("Authorization", "")
        if not auth.isascii():  # compare_digest refuses non-ASCII str: answer, do not crash
            self._json(400, {"error": "the Authorization header must be ASCII: Bearer <token>"})
            return
        given = auth.removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            self._json(401, {"error": "bad token"})
            return
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isascii() or not raw.isdigit():
            self._json(400, {"error": "Content-Length must be a number of bytes"})
            return
        if int(raw) > MAX_BODY_BYTES:
            self._json(413, {"error": f"a receipt is at most {MAX_BODY_BYTES} bytes"})
            return
        try:
            data = self.rfile.read(int(raw))
        except TimeoutError:  # fewer bytes than Content-Length said, then silence
            self._json(408, {"error": "the body was shorter than Content-Length"})
            return
        try:
            body = json.loads(data)
            known = record_receipt(
                key=str(body["key"]), status=str(body["status"]), error=str(body.get("error", ""))
            )
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": f"{type(exc).__name__}: expected {{key, status}}"})
            return
        self._json(200 if known else 404, {"ok": known})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _page(self, status: int, title: str, text: str) -> None:
        lang = get_settings().locale
        page = PAGE.format(lang=lang, title=html.escape(title), text=html.escape(text))
        data = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the query carries the signature: keep it out of the console


class AckServer(HTTPServer):
    """The receiver, with a bounded pool of workers and a listen backlog for bursts."""

    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        workers: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        settings = get_settings()
        self.workers = workers or settings.ack_workers
        timeout = timeout_s or settings.ack_socket_timeout_s
        # A handler class per server: the socket timeout is a class attribute in socketserver.
        handler = type("_Handler", (_Handler,), {"timeout": timeout})
        super().__init__((host, port), handler)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ack-server-worker")
        # Connections accepted but not yet finished; when all are taken the accept loop
        # waits, and new connections wait in the kernel's backlog instead of in memory.
        self._slots = threading.BoundedSemaphore(self.workers * 2)
        self._closing = threading.Event()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a worker, waiting for a free slot first."""
        while not self._slots.acquire(timeout=_WAIT_POLL_S):
            if self._closing.is_set():
                self.shutdown_request(request)
                return
        try:
            self._pool.submit(self._work, request, client_address)
        except RuntimeError:  # the pool is shut down: the server is closing
            self._slots.release()
            self.shutdown_request(request)

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            if not self._closing.is_set():  # closing: queued connections are just closed
                self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (the client went away): one line, no traceback."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # a reset, a broken pipe, a timeout while answering
            logger.info("ack server: connection ended early (%s)", type(exc).__name__)
        else:
            logger.exception("ack server: request failed")

    def shutdown(self) -> None:
        """Stop the serve loop, also when it waits for a free worker."""
        self._closing.set()
        super().shutdown()

    def server_close(self) -> None:
        """Stop listening; the workers finish the requests they hold (within the timeout)."""
        self._closing.set()
        super().server_close()
        self._pool.shutdown(wait=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/ack"

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="ack-server", daemon=True)
        thread.start()
        return thread
