"""Real local servers for integration tests: a warning feed that changes between polls."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FeedServer:
    """Serves ``documents[path]``; ``fail_next[path]`` answers that many 500s first."""

    port: int = 0
    documents: dict[str, bytes] = field(default_factory=dict)
    fail_next: dict[str, int] = field(default_factory=dict)
    delay_next: dict[str, float] = field(default_factory=dict)  # seconds, once
    requests: list[str] = field(default_factory=list)
    not_modified: int = 0  # 304 answers given (the ETag matched)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            delay = state.delay_next.pop(self.path, 0.0)
            if delay:
                time.sleep(delay)  # longer than the client's timeout: it gives up first
            if state.fail_next.get(self.path, 0) > 0:
                state.fail_next[self.path] -= 1
                self.send_response(500)
                self.end_headers()
                return
            body = state.documents.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match") == etag:
                state.not_modified += 1
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Type", "application/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
