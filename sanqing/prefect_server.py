"""A local ``prefect server start`` as a child process: the control room's back end.

Plain subprocess and HTTP, no Prefect import: used by ``sanqing serve``, the
benchmark and the integration tests. Settings go through the environment
(``PREFECT_SERVER_API_HOST``/``PORT``), since ``--port`` left the UI calling 4200.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

#: A cold 2-core machine needs ~12 s for a new server database.
DEFAULT_START_TIMEOUT_S = 90.0
DEFAULT_PORT = 4200


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LocalPrefectServer:
    """``prefect server start`` on ``host:port`` with its home (database, logs) in ``home``."""

    def __init__(
        self,
        home: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        database_url: str | None = None,
        ui: bool = True,
    ) -> None:
        self.home = home
        self.host = host
        self.port = port or free_port(host)
        self.api_url = f"http://{host}:{self.port}/api"
        self.ui_url = f"http://{host}:{self.port}"
        self.env = os.environ | {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_API_HOST": host,
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "true" if ui else "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        if database_url:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        self.env.pop("PREFECT_API_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"

    def start(self, timeout: float = DEFAULT_START_TIMEOUT_S) -> float:
        """Start and wait for ``/api/health``; return the seconds it took."""
        self.home.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        prefect = Path(sys.executable).with_name("prefect")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(prefect), "server", "start"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited; see {self.log_path}")
            if self.healthy():
                return time.perf_counter() - t0
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"prefect server not healthy after {timeout:.0f} s; see {self.log_path}")

    def healthy(self) -> bool:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r,
        ):
            return bool(r.status == 200)
        return False

    def stop(self, timeout: float = 20) -> None:
        """SIGINT, then SIGKILL to the process group if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
