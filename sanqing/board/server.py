"""The board's HTTP server: ``GET /`` the page, ``GET /board.json`` its data, ``GET
/print/…`` the print folder (door-visit lists, cards, reports as files to print).

Started by ``sanqing serve`` on its own port (``--board-port``, 4300), on the same
address as the control room. Off loopback it asks for the same user and password as
the Prefect server (``PREFECT_SERVER_API_AUTH_STRING``, HTTP basic auth): the page
names cadres and villages. Every page is read fresh from the app database; the
browser reloads it every ``REFRESH_S`` seconds.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sanqing.board.data import board
from sanqing.board.page import render_board
from sanqing.db import session_scope
from sanqing.settings import get_settings

logger = logging.getLogger(__name__)

#: A request that says nothing for this long is dropped (a stuck client holds no thread).
SOCKET_TIMEOUT_S = 10


class BoardServer(ThreadingHTTPServer):
    """The board on ``host:port``; ``auth`` ("user:password") required when given."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        auth: str | None = None,
        api_url: str | None = None,
        ui_url: str | None = None,
        api_auth: str | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.auth = auth
        self.api_url = api_url
        self.ui_url = ui_url or (api_url.removesuffix("/api") if api_url else None)
        self.api_auth = api_auth

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="board", daemon=True)
        thread.start()
        return thread

    def page(self) -> str:
        """The page as it stands now: the database's responses and Prefect's paused runs."""
        with session_scope() as session:
            data = board(session)
        waiting, error = self._waiting()
        return render_board(
            data, waiting=waiting, prefect_error=error, locale=get_settings().locale
        )

    def data(self) -> dict[str, Any]:
        with session_scope() as session:
            out = board(session)
        out["waiting"], out["prefect_error"] = self._waiting()
        return out

    def _waiting(self) -> tuple[list[dict[str, Any]], str | None]:
        if not self.api_url or not self.ui_url:
            return [], None
        import httpx

        from sanqing.board.runs import waiting_runs

        try:
            return waiting_runs(self.api_url, self.ui_url, self.api_auth), None
        except (httpx.HTTPError, ValueError) as exc:
            return [], f"{self.api_url}: {type(exc).__name__}"

    def authorized(self, header: str | None) -> bool:
        if not self.auth:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self.auth.encode())


class _Handler(BaseHTTPRequestHandler):
    server: BoardServer
    timeout = SOCKET_TIMEOUT_S

    def do_GET(self) -> None:
        if not self.server.authorized(self.headers.get("Authorization")):
            self._send(401, "text/plain; charset=utf-8", "需要登录 / login required", auth=True)
            return
        path = self.path.split("?", 1)[0]
        try:
            if path == "/":
                self._send(200, "text/html; charset=utf-8", self.server.page())
            elif path == "/print" or path.startswith("/print/"):
                self._print_folder(path.removeprefix("/print").strip("/"))
            elif path == "/board.json":
                body = json.dumps(self.server.data(), ensure_ascii=False, default=str)
                self._send(200, "application/json; charset=utf-8", body)
            else:
                self._send(404, "text/plain; charset=utf-8", "没有这个页面 / not found")
        except Exception as exc:
            logger.error("board page failed: %s", type(exc).__name__)
            self._send(
                500,
                "text/plain; charset=utf-8",
                f"看板读取失败 / board failed ({type(exc).__name__})",
            )

    def _print_folder(self, rest: str) -> None:
        """The print folder's files (notices, cards, reports) to open and print, or a listing."""
        from sanqing.board.files import MIME, listing, resolve

        target = resolve(get_settings().data_dir / "print", rest)
        if target is None:
            self._send(404, "text/plain; charset=utf-8", "没有这个文件 / not found")
        elif target.is_dir():
            self._send(200, "text/html; charset=utf-8", listing(target, rest))
        else:
            kind = MIME.get(target.suffix.lower(), "application/octet-stream")
            self._send(200, kind, target.read_bytes())

    def _send(self, code: int, kind: str, text: str | bytes, *, auth: bool = False) -> None:
        body = text.encode("utf-8") if isinstance(text, str) else text
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if auth:
            self.send_header("WWW-Authenticate", 'Basic realm="sanqing", charset="UTF-8"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("board %s", format % args)
