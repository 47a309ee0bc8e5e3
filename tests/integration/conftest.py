"""Real local servers for integration tests: a warning feed that changes between polls."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sanqing.prefect_server import LocalPrefectServer, free_port
from sanqing.settings import REPO_ROOT


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


@contextmanager
def running_control_room(
    tmp_path: Path, *, ui: bool, board_port: int | None = None
) -> Iterator[LocalPrefectServer]:
    """A `prefect server start` on 127.0.0.1 (temporary home) and `sanqing serve` against it.

    serve's output goes to ``tmp_path / "serve.log"``. serve is stopped first (it
    would hang on a stopped server), with SIGINT twice as Prefect expects.
    """
    server = LocalPrefectServer(tmp_path / "prefect-server", ui=ui)
    server.start()
    env = os.environ | {
        "PREFECT_API_URL": server.api_url,
        "PREFECT_HOME": str(tmp_path / "serve-home"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--board-port", str(board_port or free_port())],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield server
    finally:
        _stop_serve(serve)
        log.close()
        server.stop()


def _stop_serve(serve: subprocess.Popen[bytes]) -> None:
    """SIGINT twice, as Prefect's runner wants; SIGKILL to its group if it hangs."""
    for _ in range(2):
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            time.sleep(1)
    try:
        serve.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()


@dataclass
class ControlRoom:
    api_url: str
    ui_url: str
    log: Path
    serve: subprocess.Popen[bytes]
    board_url: str


@contextmanager
def serving_control_room(
    tmp_path: Path, *, host: str = "127.0.0.1", env: dict[str, str] | None = None
) -> Iterator[ControlRoom]:
    """`sanqing serve` as a duty officer starts it: it starts its own Prefect server.

    ``env`` adds to the environment (``PREFECT_SERVER_API_AUTH_STRING``…). Waits for
    the server's health probe (unauthenticated by design); serve's output goes to
    ``tmp_path / "serve.log"``. serve stops its server when it stops.
    """
    port, board_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = os.environ | {
        "PREFECT_HOME": str(tmp_path / "serve-home"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    full_env.pop("PREFECT_API_URL", None)
    full_env |= env or {}
    log_path = tmp_path / "serve.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [
            *(sys.executable, "-m", "cli", "serve", "--host", host, "--port", str(port)),
            *("--board-port", str(board_port)),
        ],
        cwd=REPO_ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    room = ControlRoom(f"{base}/api", base, log_path, serve, f"http://127.0.0.1:{board_port}/")
    try:
        deadline = time.monotonic() + 180
        while not _healthy(room.api_url):
            if serve.poll() is not None or time.monotonic() > deadline:
                pytest.fail("serve did not start its server: " + log_path.read_text())
            time.sleep(0.5)
        yield room
    finally:
        _stop_serve(serve)
        log.close()


def _healthy(api_url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def wait_for_deployments(
    api_url: str, names: tuple[str, ...], log: Path, timeout: float = 90
) -> None:
    """Until the API knows every deployment that serve announces."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    deadline = time.monotonic() + timeout
    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        get_client(sync_client=True) as client,
    ):
        while True:
            try:
                for name in names:
                    client.read_deployment_by_name(name)
                return
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    pytest.fail(f"deployments not served in {timeout} s: " + log.read_text())
                time.sleep(1)
