"""A local ``prefect server start`` as a child process: the control room's back end.

Plain subprocess and HTTP, no Prefect import: used by ``sanqing serve``, the drill,
the benchmark and the integration tests. Settings go through the environment
(``PREFECT_SERVER_API_HOST``/``PORT``), since ``--port`` left the UI calling 4200.

The server dies with the process that started it, however that ends (``kill -9``
too): on Linux the child asks the kernel for SIGKILL when its parent goes
(``PR_SET_PDEATHSIG``) before it becomes the server. Otherwise an orphaned server
kept the port and its database, and the next ``serve`` talked to it unawares.
``prefect server start`` (one worker) is a single process, so nothing of it is left.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sanqing.errors import (
    PrefectServerError,
)

#: How the server records task runs, unless the environment says otherwise. Prefect's
#: default writes each task-run event in a transaction of its own: for 300 task runs on
#: this project's 2-core machine the server spent 20 s of CPU (67 ms a task run) and
#: the API listed them 16 s after the flow had ended. In batches of up to 100, flushed
#: every second: 4 s of CPU, listed 0.2 s after (``bench/server_recorder.py``).
RECORDER_DEFAULTS = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    # Read from the broker in batches: a Redis broker does; the in-memory one ignores it.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
    # Whole seconds: Prefect truncates the interval to an int, and 0 would spin.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}

#: A cold 2-core machine needs ~12 s for a new server database.
DEFAULT_START_TIMEOUT_S = 90.0
DEFAULT_PORT = 4200

#: Runs in the child before it becomes the server: die with the parent, then exec the
#: command. A small program rather than ``preexec_fn``, which is unsafe once the parent
#: has threads (a spinner, the ack server). The setting survives ``execv``.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
if os.getppid() != int(sys.argv[1]):
    sys.exit("the parent ended before the server started")
os.execv(sys.argv[2], sys.argv[2:])
"""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(_family(host)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _connect_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to ``host`` (URL form)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    return host


def port_in_use(host: str, port: int) -> bool:
    """Whether another process listens on (or holds) ``host:port``."""
    with socket.socket(_family(host)) as s:
        # As Prefect binds: a port left in TIME_WAIT by a stopped server is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise PrefectServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return False


class LocalPrefectServer:
    """``prefect server start`` on ``host:port`` with its home (database, logs) in ``home``.

    ``ui=None`` leaves the UI to ``PREFECT_UI_ENABLED`` (on unless it says otherwise).

    Start it from the thread that lives as long as it should (the main thread): the
    kernel stops it when the starting *thread* ends.
    """

    def __init__(
        self,
        home: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        database_url: str | None = None,
        ui: bool | None = True,
    ) -> None:
        self.home = home
        self.host = host
        self.port = port or free_port(host)
        address = f"http://{_connect_host(host)}:{self.port}"
        self.api_url = f"{address}/api"
        self.ui_url = address
        self.env = {
            **RECORDER_DEFAULTS,  # below what the operator's environment sets
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_API_HOST": host,
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        if ui is not None:  # None: as PREFECT_UI_ENABLED says (on by default)
            self.env["PREFECT_UI_ENABLED"] = "true" if ui else "false"
        if database_url:
            self.env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        self.env.pop("PREFECT_API_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"

    def check_port(self) -> None:
        """Raise ``PrefectServerError`` when another process holds the port (no silent attach)."""
        if port_in_use(self.host, self.port):
            raise PrefectServerError(
                f"{self.host}:{self.port} is in use by another process (a Prefect server "
                f"still running?); stop it, or choose another port with --port"
            )

    def command(self) -> list[str]:
        """The command line of the server: ``prefect server start``, tied to this process."""
        prefect = str(Path(sys.executable).with_name("prefect"))
        if not sys.platform.startswith("linux"):
            return [prefect, "server", "start"]
        args = [prefect, "server", "start"]
        return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *args]

    def start(self, timeout: float = DEFAULT_START_TIMEOUT_S) -> float:
        """Start and wait for ``/api/health``; return the seconds it took."""
        self.check_port()
        self.home.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches serve first; serve stops the server
            )
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise PrefectServerError(
                    f"the Prefect server exited with status {self.proc.returncode}; "
                    f"see {self.log_path}"
                )
            if self.healthy():
                return time.perf_counter() - t0
            time.sleep(0.3)
        self.stop()
        raise PrefectServerError(
            f"the Prefect server was not ready after {timeout:.0f} s; see {self.log_path}"
        )

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


class LocalWorkPool:
    """The ``sanqing`` process work pool on a running server, its deployments from
    ``prefect.yaml`` (``prefect deploy --all``) and ``workers`` process workers.

    ``env`` goes to the deploy command and the workers, and so to every flow run they
    start (the app database URL, ``PYTHONPATH``…). Workers poll every second and take
    ``limit`` runs each (one poll takes every waiting run up to the limit: with one each,
    a county's batches spread over the workers). Workers ignore SIGTERM: stopped with
    SIGINT twice, then SIGKILL to their process group.
    """

    def __init__(
        self,
        api_url: str,
        checkout: Path,
        home: Path,
        *,
        pool: str = "sanqing",
        env: dict[str, str] | None = None,
    ) -> None:
        self.pool = pool
        self.checkout = checkout
        self.home = home
        self.env = os.environ | {
            "PREFECT_API_URL": api_url,
            "PREFECT_HOME": str(home),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
            "SANQING_CHECKOUT": str(checkout),
        }
        self.env |= env or {}
        self.workers: list[subprocess.Popen[bytes]] = []

    def prefect(self, *args: str, timeout: float = 180) -> str:
        """Run a ``prefect`` command against the server; its output, or an error naming it."""
        prefect = str(Path(sys.executable).with_name("prefect"))
        done = subprocess.run(
            [prefect, "--no-prompt", *args],
            cwd=self.checkout,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise PrefectServerError(
                f"prefect {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}"
            )
        return done.stdout

    def create_and_deploy(self, *, schedules: bool = True) -> None:
        """The pool, then every deployment of ``prefect.yaml``; ``schedules`` off pauses
        their schedules (a test or a benchmark wants no outbox or watch runs beside it)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.prefect("work-pool", "create", self.pool, "--type", "process", "--overwrite")
        self.prefect("deploy", "--all")
        if not schedules:
            self.prefect("deployment", "schedule", "pause", "--all")

    def start_workers(self, count: int, limit: int = 1) -> None:
        prefect = str(Path(sys.executable).with_name("prefect"))
        for i in range(count):
            log = open(self.home / f"worker-{i}.log", "ab")  # noqa: SIM115 - the child keeps it
            args = ["worker", "start", "--pool", self.pool, "--limit", str(limit)]
            cmd = [prefect, *args, "--name", f"{self.pool}-worker-{i}"]
            if sys.platform.startswith("linux"):
                cmd = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *cmd]
            self.workers.append(
                subprocess.Popen(
                    cmd,
                    cwd=self.checkout,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()

    def stop(self, timeout: float = 20) -> None:
        """Stop every worker, then SIGKILL what is left of it and of its flow runs."""
        left = [p for w in self.workers for p in descendants(w.pid)]
        for _ in range(2):
            for w in self.workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGINT)
            time.sleep(1)
        deadline = time.monotonic() + timeout
        for w in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(w.pid, signal.SIGKILL)  # what is left of its flow runs too
            w.wait()
        for pid in left:  # flow-run processes live in sessions of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.workers = []


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Linux ``/proc``; none elsewhere)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = [int(c) for c in (task / "children").read_text().split()]
                out += kids
                todo += kids
    return out
