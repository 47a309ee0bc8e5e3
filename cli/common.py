"""What every command shares: the consoles, the Prefect environment, one-line errors."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from sanqing.settings import Settings

console = Console()
err = Console(stderr=True)

#: A cold 2-core machine needs longer than Prefect's default 20 s to start its local API.
EPHEMERAL_STARTUP_TIMEOUT_S = "90"


def prepare_prefect_env(settings: Settings) -> None:
    """Embedded default: Prefect's home under the data directory, quiet, patient at start-up.

    Anything the user set (``PREFECT_API_URL``, ``PREFECT_HOME`` …) wins.
    """
    os.environ.setdefault("PREFECT_HOME", str(settings.data_dir / "prefect"))
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", EPHEMERAL_STARTUP_TIMEOUT_S
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def fail(exc: Exception) -> typer.Exit:
    """Print the error on one line and return the exit to raise (code 2)."""
    err.print(f"[bold red]错误 / error:[/] {exc}")
    return typer.Exit(code=2)
