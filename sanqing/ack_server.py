"""The receiver of 收到 links (a cadre taps the link in a task and the chase stops) and
of the SMS gateway's delivery receipts (``POST /receipt``).

A small HTTP server (standard library): ``GET /ack?n=<notice>&e=<expiry>&t=<signature>``
answers a short page in Chinese: 200 confirmed (or confirmed before), 400 a cut or
damaged link, 403 a forged one or one for another task, 410 an expired one; the
refusals tell the cadre to call the duty room. Run it with ``sanqing ack-server`` (``sanqing
serve`` starts it too when ``SANQING_ACK_URL`` is set); put it where the cadres'
phones reach it and point ``SANQING_ACK_URL`` at it.
"""

from __future__ import annotations

import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sanqing.acknowledge import LinkError, LinkExpired, LinkMalformed, acknowledge_link
from sanqing.db import session_scope
from sanqing.delivery import record_receipt
from sanqing.settings import get_settings

PAGE = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    '<title>{title}</title><body style="font:20px sans-serif;margin:2em"><p>{text}</p></body></html>'
)


def _refusal(exc: LinkError) -> tuple[str, str]:
    """The title and text of the page for a link that is not taken."""
    call = (
        f"请直接电话联系镇值班室（{exc.duty_phone}）"
        if exc.duty_phone
        else "请直接电话联系镇值班室"
    )
    if isinstance(exc, LinkExpired):
        return "链接已过期", f"此确认链接已过期，{call}回复收到。"
    if isinstance(exc, LinkMalformed):
        return "链接不完整", f"链接不完整或已损坏（可能复制时被截断），{call}回复收到。"
    return "链接无效", f"链接无效，不能用于确认此任务，{call}回复收到。"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path.rstrip("/") != "/ack":
            self._page(404, "未找到", "未找到该页面。")
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
        text = "已确认收到，谢谢！请按任务单落实。" if n else "此前已确认收到，无需重复确认。"
        self._page(200, "已确认收到", text)

    def do_POST(self) -> None:
        """``POST /receipt`` from the SMS gateway: ``{"key": …, "status": "delivered"|"failed"}``."""
        url = urllib.parse.urlsplit(self.path)
        token = get_settings().receipt_token
        if url.path.rstrip("/") != "/receipt":
            self._json(404, {"error": "not found"})
            return
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given, token):
            self._json(401, {"error": "bad token"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            known = record_receipt(
                key=str(body["key"]), status=str(body["status"]), error=str(body.get("error", ""))
            )
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": type(exc).__name__})
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
        data = PAGE.format(title=title, text=text).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the query carries the signature: keep it out of the console


class AckServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/ack"

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="ack-server", daemon=True)
        thread.start()
        return thread
