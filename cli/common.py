"""What every command shares: the consoles, start-up checks, the Prefect API, one-line errors."""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from sanqing.errors import SanqingError
from sanqing.paths import writable_dir
from sanqing.settings import Settings

console = Console()
err = Console(stderr=True)

#: ``--town`` of the commands for one town's response.
TownOption = Annotated[str, typer.Option(help="Town key, code or name.")]
#: ``--locale`` of the commands that end a response.
FinalReportLocaleOption = Annotated[str, typer.Option(help="Language of the final report.")]

#: A cold 2-core machine needs longer than Prefect's default 20 s to start its local API.
EPHEMERAL_STARTUP_TIMEOUT_S = "90"

#: The runs' own log (every step and its figures, in the UI) at INFO; Prefect's internals
#: (client, server, runner, libraries) and the terminal at WARNING. Keys of Prefect's
#: logging.yml, overridden from the environment (``PREFECT_LOGGING_[PATH]_[KEY]``).
RUN_LOG_LEVELS = {
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "INFO",
}
#: The terminal of ``respond``, ``drill`` and ``serve`` shows warnings only: the commands
#: print their own summary, and the run log is read in the control room. To see the run
#: log there too, set ``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=INFO``.
QUIET_TERMINAL = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING"}


def fail(exc: Exception) -> typer.Exit:
    """Print the error as written, unwrapped, and return the exit to raise (code 2).

    Messages quote data (names, paths, a gateway's answer): ``[/red]`` or ``[column]``
    in them is text, never Rich markup.
    """
    err.print(Text.assemble(("错误 / error: ", "bold red"), str(exc)), soft_wrap=True)
    return typer.Exit(code=2)


def plain(text: str, style: str = "") -> Text:
    """``text`` for a Rich console or table cell: shown as written (data may hold ``[…]``)."""
    return Text(text, style=style)


def check_folders(settings: Settings, *more: tuple[Path, str]) -> None:
    """Before any work: the data directory (and ``more`` folders) exist and take files.

    Creates them when missing: Prefect's local API keeps its database under the data
    directory, and nothing else creates it when the app database is PostgreSQL.
    """
    try:
        writable_dir(settings.data_dir, what="SANQING_DATA_DIR")
        for path, what in more:
            writable_dir(path, what=what)
    except SanqingError as exc:
        raise fail(exc) from exc


def prepare_prefect_env(settings: Settings) -> None:
    """Embedded default: Prefect's home under the data directory, quiet, patient at start-up.

    Quiet: the runs' own log (what every step did) reaches the API at INFO, the rest of
    Prefect and the terminal stay at WARNING. The data directory is checked (and created)
    first. Anything the user set (``PREFECT_API_URL``, ``PREFECT_HOME``, a level …) wins.
    """
    check_folders(settings)
    os.environ.setdefault("PREFECT_HOME", str(settings.data_dir / "prefect"))
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_S
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    for name, level in (RUN_LOG_LEVELS | QUIET_TERMINAL).items():
        os.environ.setdefault(name, level)


@contextmanager
def local_prefect_api() -> Iterator[None]:
    """The Prefect API flows of this command talk to: the configured one, else our own.

    Prefect's own temporary server outlives its parent when that is killed (it keeps
    its port and database); ours is a ``prefect server start`` on a free loopback
    port under ``PREFECT_HOME`` that the kernel stops with this process. Call
    ``prepare_prefect_env`` first; enter this from the main thread.
    """
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from sanqing.prefect_server import LocalPrefectServer

    if PREFECT_API_URL.value():  # a server the user runs, or the test harness
        yield
        return
    server = LocalPrefectServer(Path(os.environ["PREFECT_HOME"]), ui=False)
    server.start()
    # Stopped at exit, after Prefect's exit hooks have sent the run's last logs and events.
    atexit.register(server.stop)
    updates: dict[Any, Any] = {PREFECT_API_URL: server.api_url}
    # A password set for `serve` (PREFECT_SERVER_API_AUTH_STRING) reaches this server too.
    if (auth := os.environ.get("PREFECT_SERVER_API_AUTH_STRING")) and not (
        PREFECT_API_AUTH_STRING.value()
    ):
        updates[PREFECT_API_AUTH_STRING] = auth
    with temporary_settings(updates=updates):
        yield
